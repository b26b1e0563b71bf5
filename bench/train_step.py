"""Seconds per training iteration (broken down by stage) and per ``predict``.

    python bench/train_step.py [--gpu N] [--size 600 800] [--repeat 5]
        [--demo] [--json FILE]

The iteration is the Trainer's own (``configs``' defaults: full VGG16, the
PyTorch version's recipe) on synthetic shapes images of ``--size``, so the
data path (iterator, transform, converter, copy to the device) is part of
it; ``--demo`` takes the demo's narrow VGG16 (``configs/shapes.yaml``).
Every figure is the median of ``--repeat`` runs after one warm-up.

The breakdown times each stage of the iteration with the device
synchronised at its edges (so its sum is a little above the plain
iteration): data, extractor, RPN (of which the proposal creator), the
proposal target creator, the RoI head (of which RoI pooling), the anchor
target creator, the losses, backward, and the rest (the optimizer's update
and the Trainer's bookkeeping). Peak memory is the process's maximum
resident size on the CPU, and the bytes held by CuPy's memory pool on a GPU.
"""

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time

import numpy

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
import chainer

from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.config import load_config
from fasterrcnn.data.shapes import generate_shapes
from fasterrcnn.links import train_chain as train_chain_module
from fasterrcnn.links import vgg16 as vgg16_module
from fasterrcnn.training.builder import build_trainer

from timing import median_time

#: The demo's model (configs/shapes.yaml) as --set overrides.
DEMO_MODEL = ['model.extractor_channels=[8, 16, 32, 64, 64]',
              'model.fc_size=128', 'model.anchor_scales=[2, 4, 8]',
              'model.freeze_conv12=false', 'model.min_size=192',
              'model.max_size=256']
#: Top-level stages (their times add up to the iteration) and the stages
#: timed inside one of them.
STAGES = ('data', 'extractor', 'rpn', 'proposal target creator', 'head',
          'anchor target creator', 'losses', 'backward')
INNER = {'proposal creator': 'rpn', 'roi pooling': 'head'}


def device_sync(device):
    """A function that waits for the device's queued work (no-op on CPU)."""
    if device < 0:
        return lambda: None
    import cupy
    return cupy.cuda.Device(device).synchronize


def build(root, device=-1, size=(600, 800), demo=False, n_images=4,
          extra=(), comm=None):
    """A Trainer on ``n_images`` synthetic images of ``size`` in ``root``;
    ``extra`` config overrides (``KEY=VALUE``) come last; ``comm`` a
    ChainerMN communicator for a run over several processes.

    Returns:
        tuple: ``(trainer, model)``.
    """
    data = os.path.join(root, 'data')
    if not os.path.isdir(data):
        generate_shapes(data, n_train=n_images, n_test=1, seed=0,
                        size=tuple(size))
    overrides = ['data.dir=' + json.dumps(data), 'eval.every=[1000000]',
                 'train.iterations=1000000', 'train.snapshot_every=1000000',
                 'train.log_every=1000000', 'model.pretrained=null',
                 'model.min_size={}'.format(min(size)),
                 'model.max_size={}'.format(max(size))]
    if demo:
        overrides = DEMO_MODEL + overrides[:-2]
    config = load_config(None, overrides + list(extra))
    trainer, model, _ = build_trainer(config, os.path.join(root, 'run'),
                                      device=device, progress=False,
                                      comm=comm)
    return trainer, model


class _Timed(object):
    """Calls ``fn`` with the device synchronised before and after, adding
    the seconds to ``times[name]``."""

    def __init__(self, fn, name, times, sync):
        self.fn, self.name, self.times, self.sync = fn, name, times, sync

    def __call__(self, *args, **kwargs):
        self.sync()
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.sync()
            self.times[self.name] = self.times.get(self.name, 0.) + \
                time.perf_counter() - start


class _TimedConverter(_Timed, chainer.dataset.Converter):
    """A timed converter that the updater still calls new-style (with a
    ``chainer.backend.Device``)."""


@contextlib.contextmanager
def stage_timers(trainer, model, times, sync):
    """Wraps every stage of an iteration in a :class:`_Timed`, for the
    duration of the block (everything is put back afterwards)."""
    updater = trainer.updater
    chain = updater.get_optimizer('main').target
    iterator = updater.get_iterator('main')
    patches = [
        (updater, 'converter', 'data'),
        (model.extractor, 'forward', 'extractor'),
        (model.rpn, 'forward', 'rpn'),
        (model.rpn, 'proposal_layer', 'proposal creator'),
        (chain, 'proposal_target_creator', 'proposal target creator'),
        (model.head, 'forward', 'head'),
        (vgg16_module, 'roi_pooling_2d', 'roi pooling'),
        (chain, 'anchor_target_creator', 'anchor target creator'),
        (train_chain_module, 'faster_rcnn_losses', 'losses'),
        (chainer.Variable, 'backward', 'backward'),
    ]
    saved = []
    next_fn = iterator.next
    for owner, attr, name in patches:
        had_own = attr in vars(owner)
        saved.append((owner, attr, had_own, vars(owner).get(attr)))
        original = getattr(owner, attr)
        if attr == 'converter' and isinstance(original,
                                              chainer.dataset.Converter):
            setattr(owner, attr, _TimedConverter(original, name, times, sync))
        elif owner is chainer.Variable:
            timed = _Timed(original, name, times, sync)

            def method(self, *args, _timed=timed, **kwargs):
                return _timed(self, *args, **kwargs)
            setattr(owner, attr, method)
        else:
            setattr(owner, attr, _Timed(original, name, times, sync))
    # The iterator's next() belongs to 'data' too.
    iterator.next = _Timed(next_fn, 'data', times, sync)
    try:
        yield
    finally:
        del iterator.next
        for owner, attr, had_own, value in reversed(saved):
            if had_own:
                setattr(owner, attr, value)
            else:
                delattr(owner, attr)


def _median(values):
    return statistics.median(values) if values else None


def time_training(trainer, model, repeat, sync):
    """Plain iterations, then the same with the stage timers.

    Returns:
        dict: ``iteration`` (median seconds), ``stages`` (median seconds of
        each stage; ``rest`` is the iteration with timers minus the
        top-level stages), ``loss`` (the last reported total loss).
    """
    updater = trainer.updater
    observation = {}

    def step():
        # The Trainer's reporter knows the train chain as 'main'.
        with trainer.reporter.scope(observation):
            updater.update()
        sync()

    step()  # warm-up: allocations, kernel compilation, cuDNN choice
    plain = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        plain.append(time.perf_counter() - start)
    per_stage = {name: [] for name in STAGES + tuple(INNER) + ('rest',)}
    for _ in range(repeat):
        times = {}
        start = time.perf_counter()
        with stage_timers(trainer, model, times, sync):
            step()
        total = time.perf_counter() - start
        for name in STAGES + tuple(INNER):
            per_stage[name].append(times.get(name, 0.))
        per_stage['rest'].append(total - sum(times.get(n, 0.)
                                             for n in STAGES))
    loss = observation.get('main/loss')
    return {'iteration': _median(plain),
            'stages': {k: _median(v) for k, v in per_stage.items()},
            'loss': None if loss is None else float(
                chainer.backends.cuda.to_cpu(getattr(loss, 'array', loss)))}


def time_predict(model, size, repeat, sync):
    """Median seconds of ``model.predict`` on one raw image of ``size``
    (the 'evaluate' preset)."""
    rng = numpy.random.RandomState(0)
    img = rng.uniform(0, 255, (3,) + tuple(size)).astype(numpy.float32)
    model.use_preset('evaluate')
    return median_time(lambda: model.predict([img]), repeat, sync)


def peak_memory(device):
    """``(name, bytes)`` of the peak memory figure for the device."""
    if device >= 0:
        import cupy
        return 'CuPy pool held', int(
            cupy.get_default_memory_pool().total_bytes())
    # ru_maxrss is in kilobytes on Linux.
    return 'max resident', int(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def run(device=-1, size=(600, 800), repeat=5, demo=False, root=None):
    """Everything this benchmark measures, as a dict."""
    keep_freed_memory()
    sync = device_sync(device)
    with contextlib.ExitStack() as stack:
        if root is None:
            root = stack.enter_context(tempfile.TemporaryDirectory())
        trainer, model = build(root, device, size, demo)
        result = {'device': device, 'size': list(size), 'demo': demo,
                  'repeat': repeat}
        result.update(time_training(trainer, model, repeat, sync))
        result['predict'] = time_predict(model, size, repeat, sync)
        result['memory'] = peak_memory(device)
    return result


def format_table(result):
    """The result as a Markdown table (milliseconds)."""
    def ms(value):
        return '-' if value is None else '{:.1f} ms'.format(value * 1e3)
    lines = ['| stage | time |', '|---|---|',
             '| training iteration | {} |'.format(ms(result['iteration'])),
             '| predict | {} |'.format(ms(result['predict']))]
    for name in STAGES + ('rest',):
        lines.append('| - {} | {} |'.format(name, ms(result['stages'][name])))
        for inner, outer in INNER.items():
            if outer == name:
                lines.append('| -- of which {} | {} |'.format(
                    inner, ms(result['stages'][inner])))
    name, value = result['memory']
    lines.append('| peak memory ({}) | {:.0f} MiB |'.format(
        name, value / 2 ** 20))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--gpu', type=int, default=-1)
    parser.add_argument('--size', type=int, nargs=2, default=(600, 800),
                        metavar=('H', 'W'))
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--demo', action='store_true',
                        help="the demo's narrow VGG16 instead of the full one")
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args(argv)
    result = run(args.gpu, args.size, args.repeat, args.demo)
    print(format_table(result))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
