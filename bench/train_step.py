"""Seconds per training iteration (broken down by stage) and per ``predict``,
ours, with Chainer's own CPU functions, and the PyTorch version's.

    python bench/train_step.py [--torch-repo PATH] [--gpu N]
        [--size 600 800] [--repeat 5] [--demo] [--json FILE]

Three sides, each in a process of its own (so that its peak memory is its
own), from the same weights on the same image:

* ``ours``: the Trainer's own iteration (``configs``' defaults: full VGG16,
  the PyTorch version's recipe) on synthetic shapes images of ``--size``,
  so the data path (iterator, transform, converter, copy to the device) is
  part of it; ``--demo`` takes the demo's narrow VGG16
  (``configs/shapes.yaml``);
* ``chainer``: the same with Chainer's own CPU convolution and max pooling
  (``chainer.config.fasterrcnn_cpu_kernels = False``): how this project ran
  before its own kernels;
* ``torch``: with ``--torch-repo`` (an unmodified checkout of
  simple-faster-rcnn-pytorch) and torch importable, the PyTorch version's
  ``FasterRCNNTrainer.train_step`` on the same prepared image and boxes,
  and its ``preprocess`` + ``predict``.

Every figure is the median of ``--repeat`` runs after one warm-up.

The breakdown times each stage of our iteration with the device
synchronised at its edges (so its sum is a little above the plain
iteration): data, extractor (forward; ``conv1_1``-``conv5_3`` per block),
RPN (of which the proposal creator), the proposal target creator, the RoI
head (of which RoI pooling), the anchor target creator, the losses,
backward, and the rest (the optimizer's update and the Trainer's
bookkeeping). Peak memory is the process's maximum resident size on the
CPU, and the bytes held by CuPy's memory pool on a GPU.
"""

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
import chainer

from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.cli.common import UserError, select_gpu
from fasterrcnn.config import load_config
from fasterrcnn.data.shapes import generate_shapes
from fasterrcnn.links import train_chain as train_chain_module
from fasterrcnn.training.builder import build_trainer

from timing import median_time

#: The demo's model (configs/shapes.yaml) as --set overrides.
DEMO_MODEL = ['model.extractor_channels=[8, 16, 32, 64, 64]',
              'model.fc_size=128', 'model.anchor_scales=[2, 4, 8]',
              'model.freeze_conv12=false', 'model.min_size=192',
              'model.max_size=256']
#: Top-level stages (their times add up to the iteration) and the stages
#: timed inside one of them: the extractor's five blocks forward, and the
#: backward of what each stage computed (a Chainer FunctionHook files each
#: function's backward under the stage that ran its forward).
STAGES = ('data', 'extractor', 'rpn', 'proposal target creator', 'head',
          'anchor target creator', 'losses', 'backward')
BLOCKS = tuple('block {}'.format(b + 1) for b in range(5))
INNER = dict([('proposal creator', 'rpn'), ('roi pooling', 'head')] +
             [(name, 'extractor') for name in BLOCKS] +
             [('backward of ' + name, 'backward')
              for name in BLOCKS + ('rpn', 'head', 'losses')])
#: The stages being timed, innermost last (the hook's labels).
_ACTIVE = []


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
        _ACTIVE.append(self.name)
        try:
            return self.fn(*args, **kwargs)
        finally:
            _ACTIVE.pop()
            self.sync()
            self.times[self.name] = self.times.get(self.name, 0.) + \
                time.perf_counter() - start


class _TimedBlock(_Timed):
    """The extractor's ``_block(h, b, ...)``, timed as ``block b + 1``."""

    def __call__(self, h, b, *args, **kwargs):
        timed = _Timed(self.fn, 'block {}'.format(b + 1), self.times,
                       self.sync)
        return timed(h, b, *args, **kwargs)


class _BackwardByStage(chainer.FunctionHook):
    """Adds each function's backward time to ``backward of STAGE``, the
    innermost stage timed when its forward ran (the blocks, rpn, head,
    losses; other stages' functions are not counted)."""

    name = 'backward by stage'
    counted = set(name for name in INNER if name.startswith('block')) | {
        'rpn', 'head', 'roi pooling', 'losses'}

    def __init__(self, times, sync):
        self.times, self.sync = times, sync
        self.labels, self.started = {}, {}

    def forward_postprocess(self, function, in_data):
        stage = _ACTIVE[-1] if _ACTIVE else None
        if stage == 'roi pooling':
            stage = 'head'
        if stage in self.counted:
            self.labels[id(function)] = stage

    def backward_preprocess(self, function, in_data, out_grad):
        if id(function) in self.labels:
            self.sync()
            self.started[id(function)] = time.perf_counter()

    def backward_postprocess(self, function, in_data, out_grad):
        start = self.started.pop(id(function), None)
        if start is not None:
            self.sync()
            name = 'backward of ' + self.labels[id(function)]
            self.times[name] = self.times.get(name, 0.) + \
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
        (model.extractor, '_block', 'block'),
        (model.rpn, 'propose', 'rpn'),
        (model.rpn, 'proposal_layer', 'proposal creator'),
        (chain, 'proposal_target_creator', 'proposal target creator'),
        (model.head, 'forward', 'head'),
        (model.head, '_roi', 'roi pooling'),
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
        elif attr == '_block':
            setattr(owner, attr, _TimedBlock(original, name, times, sync))
        elif owner is chainer.Variable:
            timed = _Timed(original, name, times, sync)

            def method(self, *args, _timed=timed, **kwargs):
                return _timed(self, *args, **kwargs)
            setattr(owner, attr, method)
        else:
            setattr(owner, attr, _Timed(original, name, times, sync))
    # The iterator's next() belongs to 'data' too.
    iterator.next = _Timed(next_fn, 'data', times, sync)
    hook = _BackwardByStage(times, sync)
    try:
        with hook:
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


def _load_weights(model, path):
    """The weights of ``path`` (PyTorch names, see export_weights)."""
    from fasterrcnn.weights.state_dict import load_state_dict
    load_state_dict(model, _read_weights(path))


def _read_weights(path):
    from fasterrcnn.safe_npz import open_npz
    with open_npz(path) as npz:
        return {key: npz[key] for key in npz.files}


def run_ours(root, device=-1, size=(600, 800), repeat=5, demo=False,
             weights=None):
    """Our side: every figure of the iteration and ``predict`` (a dict)."""
    keep_freed_memory()
    sync = device_sync(device)
    trainer, model = build(root, device, size, demo)
    if weights:
        _load_weights(model, weights)
    result = {'device': device, 'size': list(size), 'demo': demo,
              'repeat': repeat}
    result.update(time_training(trainer, model, repeat, sync))
    result['predict'] = time_predict(model, size, repeat, sync)
    result['memory'] = peak_memory(device)
    return result


def run_torch(root, torch_repo, size=(600, 800), repeat=5, weights=None,
              gpu=-1):
    """The PyTorch version's ``train_step`` and ``preprocess`` +
    ``predict`` on the first training image of ``root``'s data set, with
    its boxes, from ``weights``; on GPU ``gpu`` (its own ``.cuda()``
    calls, the device synchronised around each timed call), else the
    CPU."""
    from fasterrcnn.data.voc import VOCBboxDataset
    from fasterrcnn.interop.torch_version import load_torch_version
    tv = load_torch_version(torch_repo)
    torch = tv.torch
    # Its preprocess resizes to these, as ours does to model.min/max_size.
    tv.opt.min_size, tv.opt.max_size = min(size), max(size)
    dataset = VOCBboxDataset(os.path.join(root, 'data'), split='trainval')
    img, bbox, label = dataset[0][:3]
    n_fg = len(dataset.label_names)
    on_gpu = gpu >= 0
    if on_gpu:
        if not tv.cuda:
            raise RuntimeError('torch sees no CUDA device')
        torch.cuda.set_device(gpu)
    model = tv.FasterRCNNVGG16(n_fg_class=n_fg)
    if weights:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in
                               _read_weights(weights).items()})
    # As its train.py: the trainer (and the model in it) on the device.
    trainer = tv.FasterRCNNTrainer(model)
    if on_gpu:
        trainer = trainer.cuda()
    prepared = numpy.asarray(tv.preprocess(img), numpy.float32)
    scale = prepared.shape[1] / float(img.shape[1])
    batch = [torch.from_numpy(prepared[None].copy()),
             torch.from_numpy((bbox * scale)[None].astype(numpy.float32)),
             torch.from_numpy(label[None].astype(numpy.int32))]
    if on_gpu:
        batch = [t.cuda() for t in batch]

    def synced(call):
        def run():
            call()
            if on_gpu:
                torch.cuda.synchronize()
        return run

    model.train()
    iteration = median_time(synced(lambda: trainer.train_step(*batch,
                                                              scale)),
                            repeat)

    def predict():
        x = numpy.asarray(tv.preprocess(img), numpy.float32)
        with torch.no_grad():
            model.predict(torch.from_numpy(x[None].copy()),
                          [img.shape[1:]], visualize=False)
    model.use_preset('evaluate')
    result = {'iteration': iteration,
              'predict': median_time(synced(predict), repeat),
              'torch_threads': torch.get_num_threads()}
    if on_gpu:
        result['memory'] = ('torch.cuda max allocated',
                            torch.cuda.max_memory_allocated())
    else:
        result['memory'] = peak_memory(-1)
    return result


def export_weights(root, size, demo, path):
    """Build our model once (seeded, as every side does) and write its
    starting weights, PyTorch-named, to ``path``: every side loads them."""
    from fasterrcnn.weights.state_dict import export_state_dict
    _, model = build(root, -1, size, demo)
    numpy.savez(path, **export_state_dict(model))


def run_side(side, args, root, weights):
    """One side in a process of its own; its figures (a dict)."""
    command = [sys.executable, os.path.abspath(__file__), '--side', side,
               '--root', root, '--weights', weights, '--repeat',
               str(args.repeat), '--size'] + [str(v) for v in args.size]
    if args.demo:
        command.append('--demo')
    command += ['--gpu', str(args.gpu)]
    if side == 'torch':
        command += ['--torch-repo', args.torch_repo]
    out = subprocess.run(command, stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _ms(value):
    return '-' if value is None else '{:.0f} ms'.format(value * 1e3)


def _ratio(a, b):
    return '-' if a is None or b is None else '{:.2f}'.format(a / b)


def format_table(results):
    """Markdown: one column per side, ratios to the PyTorch version."""
    sides = [s for s in ('ours', 'chainer', 'torch') if s in results]
    names = {'ours': 'ours', 'chainer': "Chainer's functions (before)",
             'torch': 'PyTorch version'}
    torch = results.get('torch')
    header = '| | ' + ' | '.join(names[s] for s in sides)
    if torch:
        header += ' | ' + ' | '.join(
            '{} / PyTorch'.format(names[s].split(' (')[0])
            for s in sides if s != 'torch')
    lines = [header + ' |', '|---' * (header.count('|')) + '|']

    def row(label, key, stage=False):
        values = [(results[s]['stages'].get(key) if stage else
                   results[s].get(key)) if s != 'torch' or not stage else None
                  for s in sides]
        cells = [_ms(v) for v in values]
        if torch:
            cells += [_ratio(v, torch.get(key)) if not stage else ''
                      for s, v in zip(sides, values) if s != 'torch']
        lines.append('| {} | {} |'.format(label, ' | '.join(cells)))
    row('training iteration', 'iteration')
    row('predict', 'predict')
    for name in STAGES + ('rest',):
        row('- ' + name, name, stage=True)
        for inner, outer in INNER.items():
            if outer == name:
                row('-- ' + inner, inner, stage=True)
    memory = ['{:.0f} MiB'.format(results[s]['memory'][1] / 2 ** 20)
              for s in sides]
    if torch:
        memory += [_ratio(results[s]['memory'][1], torch['memory'][1])
                   for s in sides if s != 'torch']
    lines.append('| peak memory ({}) | {} |'.format(
        results[sides[0]]['memory'][0], ' | '.join(memory)))
    return '\n'.join(lines)


def blas_speed(repeat=5):
    """GFLOP/s of NumPy's float32 matrix product (2048 x 2048) on this
    machine now: the reference the figures are read against (a shared
    machine's speed moves from day to day)."""
    a = numpy.random.RandomState(0).rand(2048, 2048).astype(numpy.float32)
    return 2 * 2048 ** 3 / median_time(lambda: a @ a, repeat) / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--gpu', type=int, default=-1)
    parser.add_argument('--size', type=int, nargs=2, default=(600, 800),
                        metavar=('H', 'W'))
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--demo', action='store_true',
                        help="the demo's narrow VGG16 instead of the full one")
    parser.add_argument('--torch-repo', metavar='PATH',
                        help='a checkout of simple-faster-rcnn-pytorch: '
                        'time it too (needs torch)')
    parser.add_argument('--sides', nargs='+',
                        default=('ours', 'chainer', 'torch'),
                        choices=('ours', 'chainer', 'torch'))
    parser.add_argument('--json', help='also write the figures here')
    # One side, in this process (what the parent runs).
    parser.add_argument('--side', help=argparse.SUPPRESS)
    parser.add_argument('--root', help=argparse.SUPPRESS)
    parser.add_argument('--weights', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.gpu >= 0 and args.side != 'torch':
        # CuPy missing or no device: one line saying what to install.
        try:
            select_gpu(args.gpu)
        except UserError as e:
            parser.exit(2, '{}: error: {}\n'.format(parser.prog, e))
    if args.side:
        if args.side == 'torch':
            result = run_torch(args.root, args.torch_repo, args.size,
                               args.repeat, args.weights, gpu=args.gpu)
        else:
            with chainer.using_config('fasterrcnn_cpu_kernels',
                                      args.side == 'ours'):
                result = run_ours(args.root, args.gpu, args.size,
                                  args.repeat, args.demo, args.weights)
        print(json.dumps(result))
        return 0
    sides = [s for s in args.sides if s != 'torch' or args.torch_repo]
    if args.demo:
        # The PyTorch version builds full VGG16 only.
        sides = [s for s in sides if s != 'torch']
    if args.gpu >= 0:
        # Chainer's own CPU kernels are not used on a GPU: "chainer" would
        # time "ours" again.
        sides = [s for s in sides if s != 'chainer']
    results = {}
    speed = blas_speed()
    with tempfile.TemporaryDirectory() as root:
        weights = os.path.join(root, 'weights.npz')
        export_weights(root, args.size, args.demo, weights)
        for side in sides:
            print('timing {} ...'.format(side), file=sys.stderr)
            results[side] = run_side(side, args, root, weights)
    print(format_table(results))
    print('\nNumPy sgemm on this machine now: {:.0f} GFLOP/s'.format(speed))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(results, sgemm_gflops=speed), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
