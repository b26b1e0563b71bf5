"""Seconds per training iteration (broken down by stage) and per ``predict``,
ours, with Chainer's own CPU functions, and the PyTorch version's, each
side doing the same work.

    python bench/train_step.py [--torch-repo PATH] [--gpu N]
        [--size 600 800] [--repeat 5] [--image random|shapes] [--demo]
        [--coretype NAME] [--torch-malloc keep|default]
        [--sides ours chainer torch] [--json FILE]

Three sides, each in a process of its own (so that its peak memory is its
own):

* ``ours``: the Trainer's own iteration (``configs``' defaults: full VGG16,
  the PyTorch version's recipe); ``--demo`` takes the demo's narrow VGG16
  (``configs/shapes.yaml``);
* ``chainer``: the same with Chainer's own CPU convolution and max pooling
  (``chainer.config.fasterrcnn_cpu_kernels = False``): how this project ran
  before its own kernels;
* ``torch``: with ``--torch-repo`` (an unmodified checkout of
  simple-faster-rcnn-pytorch) and torch importable, the PyTorch version's
  ``FasterRCNNTrainer.train_step``, and its ``preprocess`` + ``predict``.

The same work on every side:

* the same starting weights: our model is built once (seeded) and its
  weights, PyTorch-named, are loaded by every side; before ``predict``
  every side loads them again, so that its proposals and detections do not
  depend on how many training steps the side took;
* the same example: one raw image of ``--size`` with its boxes and labels
  (``--image random``: uniform integer noise in ``[0, 255]`` with the three
  boxes of :data:`RANDOM_BOXES`; ``shapes``: the first synthetic shapes
  image, with its own boxes), written once and read by every side; three
  classes (the shapes' labels) on every side;
* the same preparation: each side prepares it with its own code (ours: the
  Trainer's transform, the model's ``prepare``; the PyTorch version's
  ``preprocess`` and ``resize_bbox``), no flip on either side (the
  PyTorch version's ``train_step`` has none); the network inputs, boxes
  and scale each side trained on are compared, and the largest difference
  is printed;
* ``predict``: the raw image, the 'evaluate' preset, preparation included,
  on every side;
* the same glibc allocator setting on every side:
  :func:`fasterrcnn.backend.keep_freed_memory`, which our training
  script applies (``--torch-malloc default`` runs the PyTorch version with
  glibc's defaults, as its own ``train.py`` does: every large temporary is
  then page-faulted in again at every step).

What differs by design: our iteration is the Trainer's (``updater.update()``:
the iterator, the transform, the converter, the train chain, the
optimizer), so its data path is counted, and timed on its own in the
breakdown (``data``); the example comes from memory (no file is read, so
that no JPEG coding changes the pixels one side sees). The PyTorch
version's ``train_step`` starts from the prepared tensors (its data path
runs in DataLoader workers in its ``train.py``).

Every side counts what the image makes it do: the proposals after NMS, the
RoIs sampled for the head (and the positive ones), the anchors sampled
(positive, negative), and in ``predict`` the proposals and detections.
From the same weights and input these agree between the sides at the first
iteration (each step then moves the weights, on each side by its own
float rounding). Time moves with them: NMS over the 12000 top-scored
boxes takes longer the more boxes it keeps (torchvision's CPU NMS
compares every kept box with the boxes after it), so an image whose
proposals stay apart costs more than one whose proposals collapse.

Every figure is the median of ``--repeat`` runs after one warm-up, with the
minimum, maximum and quartiles of the runs; the ratios to the PyTorch
version are of the medians, with their range (fastest against slowest
both ways). With each side's figures come the BLAS and its kernel
(threadpoolctl: NumPy's OpenBLAS and its ``architecture``, the kernel
``OPENBLAS_CORETYPE`` chooses), the thread counts, torch's BLAS (MKL) and
convolutions (oneDNN), which ``OPENBLAS_CORETYPE`` does not choose, NumPy's
float32 GEMM speed before and after the side's timings, and the share of
the machine other processes used during the timed runs (above 0.1: the
figures are disturbed, run again). ``--coretype NAME`` sets
``OPENBLAS_CORETYPE`` for every side's process.

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
import platform
import resource
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
from fasterrcnn.data.shapes import LABEL_NAMES, generate_shapes
from fasterrcnn.links import train_chain as train_chain_module
from fasterrcnn.training.builder import build_trainer

from timing import median_time, run_times, spread

#: The demo's model (configs/shapes.yaml) as --set overrides.
DEMO_MODEL = ['model.extractor_channels=[8, 16, 32, 64, 64]',
              'model.fc_size=128', 'model.anchor_scales=[2, 4, 8]',
              'model.freeze_conv12=false', 'model.min_size=192',
              'model.max_size=256']
#: The random image's boxes ``(y_min, x_min, y_max, x_max)`` as fractions
#: of ``(H, W, H, W)``, and their labels.
RANDOM_BOXES = ((0.10, 0.10, 0.45, 0.40), (0.30, 0.45, 0.85, 0.90),
                (0.55, 0.05, 0.95, 0.35))
RANDOM_LABELS = (0, 1, 2)
#: What each side counts (see :class:`Counts`).
TRAIN_COUNTS = ('proposals', 'sampled rois', 'positive rois',
                'positive anchors', 'negative anchors')
PREDICT_COUNTS = ('proposals', 'detections')
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
#: Above this share of the machine taken by other processes during the
#: timed runs, the figures are marked disturbed.
DISTURBED = 0.1


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


def bench_example(kind, size, root=None):
    """The raw example every side trains and predicts on.

    Args:
        kind (str): ``'random'``: uniform integer noise in ``[0, 255]`` of
            ``size`` with the boxes of :data:`RANDOM_BOXES`; ``'shapes'``:
            the first training image of the shapes data set in ``root``
            (``root/data``, as :func:`build` writes it), with its boxes.
        size (tuple of int): ``(H, W)`` of the random image.
        root (str): the folder :func:`build` was given (``'shapes'``).

    Returns:
        tuple: ``img`` ``(3, H, W)`` float32 RGB in ``[0, 255]``, ``bbox``
        ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)`` in its pixels,
        ``label`` ``(R,)`` int32 in ``[0, 3)`` (the shapes' classes).
    """
    if kind == 'random':
        height, width = size
        rng = numpy.random.RandomState(0)
        img = rng.randint(0, 256, (3, height, width)).astype(numpy.float32)
        bbox = numpy.asarray(RANDOM_BOXES) * [height, width, height, width]
        return (img, bbox.astype(numpy.float32),
                numpy.asarray(RANDOM_LABELS, numpy.int32))
    if kind == 'shapes':
        from fasterrcnn.data.voc import VOCBboxDataset
        dataset = VOCBboxDataset(os.path.join(root, 'data'),
                                 split='trainval')
        img, bbox, label = dataset[0][:3]
        return (numpy.asarray(img, numpy.float32),
                numpy.asarray(bbox, numpy.float32),
                numpy.asarray(label, numpy.int32))
    raise ValueError('no such image: {!r}'.format(kind))


def write_example(path, example):
    img, bbox, label = example
    numpy.savez(path, img=img, bbox=bbox, label=label)


def read_example(path):
    """The ``(img, bbox, label)`` of :func:`write_example`."""
    npz = _read_weights(path)
    return npz['img'], npz['bbox'], npz['label']


class _SameExample(object):
    """A data set of ``n`` copies of one ``(img, bbox, label)`` example
    (each read returns fresh arrays, as a reader of files does)."""

    def __init__(self, example, n):
        self.example, self.n = tuple(example), n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        if not -self.n <= index < self.n:
            raise IndexError(index)
        return tuple(a.copy() for a in self.example)


def feed_example(trainer, example):
    """Makes the Trainer's iterator read ``example`` at every place of its
    data set (before its first batch); returns what its transform makes of
    it: ``(img, bbox, label, scale)``, the input of the train chain."""
    iterator = trainer.updater.get_iterator('main')
    iterator.dataset = _SameExample(example, len(iterator.dataset))
    return iterator.transform(iterator.dataset[0],
                              numpy.random.RandomState(0))


class Counts(object):
    """What the image makes one side do, call by call.

    ``train[name]`` for ``name`` in :data:`TRAIN_COUNTS` (one entry per
    training iteration, the warm-up first) and ``predict[name]`` for
    :data:`PREDICT_COUNTS` (one per ``predict``); :meth:`add` files under
    the current ``phase``.
    """

    def __init__(self):
        self.phase = 'train'
        self.train = {name: [] for name in TRAIN_COUNTS}
        self.predict = {name: [] for name in PREDICT_COUNTS}

    def add(self, name, value):
        getattr(self, self.phase)[name].append(int(value))

    def install(self, rpn, owner):
        """Counts what ``rpn.proposal_layer`` returns, and what
        ``owner.proposal_target_creator`` and ``owner.anchor_target_creator``
        return (our train chain or the PyTorch version's trainer: the same
        names and the same outputs on both sides)."""
        def proposals(roi):
            self.add('proposals', len(roi))

        def rois(out):
            label = out[2]
            self.add('sampled rois', len(label))
            self.add('positive rois', (label > 0).sum())

        def anchors(out):
            label = out[1]
            self.add('positive anchors', (label == 1).sum())
            self.add('negative anchors', (label == 0).sum())
        _count_calls(rpn, 'proposal_layer', proposals)
        _count_calls(owner, 'proposal_target_creator', rois)
        _count_calls(owner, 'anchor_target_creator', anchors)

    def as_dict(self):
        return {'train': self.train, 'predict': self.predict}


def _count_calls(owner, attr, record):
    fn = getattr(owner, attr)

    def counted(*args, **kwargs):
        out = fn(*args, **kwargs)
        record(out)
        return out
    setattr(owner, attr, counted)


def _runs_figures(name, runs):
    """``name``, ``name_spread``, ``name_times`` and ``name_others`` of a
    :class:`timing.Runs`."""
    return {name: runs.spread()['median'], name + '_spread': runs.spread(),
            name + '_times': runs.times, name + '_others': runs.others}


def time_training(trainer, model, repeat, sync):
    """Plain iterations, then the same with the stage timers.

    Returns:
        dict: ``iteration`` (median seconds; ``iteration_spread``,
        ``iteration_times``, ``iteration_others``: see
        :func:`timing.run_times`), ``stages`` (median seconds of each
        stage; ``rest`` is the iteration with timers minus the top-level
        stages), ``loss`` (the last reported total loss).
    """
    updater = trainer.updater
    observation = {}

    def step():
        # The Trainer's reporter knows the train chain as 'main'.
        with trainer.reporter.scope(observation):
            updater.update()
        sync()

    # The warm-up: allocations, kernel compilation, cuDNN choice.
    result = _runs_figures('iteration', run_times(step, repeat, sync))
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
    result.update({
        'stages': {k: spread(v)['median'] for k, v in per_stage.items()},
        'loss': None if loss is None else float(
            chainer.backends.cuda.to_cpu(getattr(loss, 'array', loss)))})
    return result


def random_image(size):
    """The raw image ``predict`` is timed on when none is given."""
    rng = numpy.random.RandomState(0)
    return rng.uniform(0, 255, (3,) + tuple(size)).astype(numpy.float32)


def predict_runs(model, img, repeat, sync, counts=None):
    """``model.predict([img])`` (the 'evaluate' preset) timed
    (:func:`timing.run_times`); ``counts`` gets the detections of each
    call."""
    model.use_preset('evaluate')

    def predict():
        bboxes, _, _ = model.predict([img])
        if counts is not None:
            counts.add('detections', len(bboxes[0]))
    return run_times(predict, repeat, sync)


def time_predict(model, size, repeat, sync, img=None):
    """Median seconds of ``model.predict`` on one raw image (``img``, else
    a random one of ``size``), the 'evaluate' preset."""
    img = random_image(size) if img is None else img
    return predict_runs(model, img, repeat, sync).spread()['median']


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


def _write_input(path, img, bbox, scale):
    """What a side trained on (compared by the parent)."""
    if path:
        numpy.savez(path, img=numpy.asarray(img, numpy.float32),
                    bbox=numpy.asarray(bbox, numpy.float32),
                    scale=numpy.float64(scale))


def blas_speed(repeat=5, n=2048):
    """GFLOP/s of NumPy's float32 matrix product (``n`` x ``n``) in this
    process now: the reference the figures are read against (a shared
    machine's speed moves from hour to hour, and the BLAS's kernel is the
    one ``OPENBLAS_CORETYPE`` chose for this process)."""
    a = numpy.random.RandomState(0).rand(n, n).astype(numpy.float32)
    return 2 * n ** 3 / median_time(lambda: a @ a, repeat) / 1e9


def blas_info():
    """Every BLAS and OpenMP library loaded in this process, as
    threadpoolctl sees it (``internal_api``, ``version``,
    ``architecture``: OpenBLAS's kernel, ``num_threads``, ``numpy``: the
    one NumPy links), or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    libs = []
    for lib in threadpool_info():
        path = lib.get('filepath') or ''
        entry = {key: lib.get(key) for key in (
            'user_api', 'internal_api', 'version', 'architecture',
            'threading_layer', 'num_threads')}
        entry['file'] = os.path.basename(path)
        # numpy.libs/ (its wheels) or numpy's own folder.
        entry['numpy'] = lib.get('user_api') == 'blas' and \
            'numpy' in path.split(os.sep + 'site-packages' + os.sep)[-1]
        libs.append(entry)
    return libs


def environment():
    """The versions, the BLAS, its kernel and the thread counts of this
    process."""
    from fasterrcnn.cpu_threads import cpu_threads
    return {'python': platform.python_version(),
            'numpy': numpy.__version__, 'chainer': chainer.__version__,
            'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
            'thread_variables': {name: os.environ.get(name) for name in (
                'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS',
                'MKL_NUM_THREADS')},
            'cores': cpu_threads(), 'blas': blas_info()}


def torch_environment(torch):
    """torch's version, threads, and the libraries its CPU kernels come
    from (``torch.__config__``): its BLAS (MKL), its convolutions (oneDNN,
    named MKL-DNN there), its vector instructions. ``OPENBLAS_CORETYPE``
    chooses none of them."""
    import re
    config = torch.__config__.show()

    def found(pattern):
        match = re.search(pattern, config)
        return match.group(1) if match else None
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        capability = found(r'CPU capability usage: (\S+)')
    return {'torch': torch.__version__,
            'threads': torch.get_num_threads(),
            'interop_threads': torch.get_num_interop_threads(),
            'blas': found(r'BLAS_INFO=(\w+)'),
            'mkl': found(r'Math Kernel Library Version ([\w.-]+)'),
            'onednn': found(r'MKL-DNN v([\w.]+)'),
            'onednn_used': bool(torch.backends.mkldnn.is_available() and
                                torch.backends.mkldnn.enabled),
            'cpu_capability': capability}


def torch_speed(torch, repeat=5, n=2048):
    """GFLOP/s of torch's float32 matrix product (its BLAS) now."""
    a = torch.from_numpy(numpy.random.RandomState(0).rand(n, n).astype(
        numpy.float32))
    return 2 * n ** 3 / median_time(lambda: torch.mm(a, a), repeat) / 1e9


def run_ours(root, device=-1, size=(600, 800), repeat=5, demo=False,
             weights=None, example=None, input_file=None):
    """Our side: every figure of the iteration and ``predict`` (a dict).

    Trains on ``example`` (``(img, bbox, label)``, a random image of
    ``size`` when None) through the Trainer's own iterator (no flip) and
    predicts on its image, from ``weights`` (both times); writes what the
    train chain was given to ``input_file``."""
    keep_freed_memory()
    sync = device_sync(device)
    result = {'device': device, 'size': list(size), 'demo': demo,
              'repeat': repeat, 'malloc': 'keep', 'environment':
              environment(), 'sgemm_gflops': [blas_speed()]}
    trainer, model = build(root, device, size, demo,
                           extra=['data.flip=false'])
    if weights:
        _load_weights(model, weights)
    start = {name: param.array.copy() for name, param in model.namedparams()}
    if example is None:
        example = bench_example('random', size)
    prepared = feed_example(trainer, example)
    _write_input(input_file, prepared[0], prepared[1], prepared[3])
    counts = Counts()
    counts.install(model.rpn, trainer.updater.get_optimizer('main').target)
    result.update(time_training(trainer, model, repeat, sync))
    # predict from the starting weights, as every side.
    for name, param in model.namedparams():
        param.array[...] = start[name]
    counts.phase = 'predict'
    result.update(_runs_figures('predict', predict_runs(
        model, example[0], repeat, sync, counts)))
    result['counts'] = counts.as_dict()
    result['memory'] = peak_memory(device)
    result['sgemm_gflops'].append(blas_speed())
    return result


def run_torch(root, torch_repo, size=(600, 800), repeat=5, weights=None,
              gpu=-1, example=None, malloc='keep', input_file=None):
    """The PyTorch version's ``train_step`` on ``example`` (``(img, bbox,
    label)``, a random image of ``size`` when None) as its own
    ``preprocess`` and ``resize_bbox`` prepare it, and its ``preprocess``
    + ``predict`` of the raw image ('evaluate' preset), both from
    ``weights``; on GPU ``gpu`` (its own ``.cuda()`` calls, the device
    synchronised around each timed call), else the CPU. ``malloc='keep'``:
    glibc keeps freed memory, as on our side; ``'default'``: glibc's
    defaults, as its ``train.py`` runs."""
    import importlib

    from fasterrcnn.interop.torch_version import load_torch_version
    if malloc == 'keep':
        keep_freed_memory()
    result = {'malloc': malloc, 'environment': environment(),
              'sgemm_gflops': [blas_speed()]}
    tv = load_torch_version(torch_repo)
    torch = tv.torch
    # Its preprocess resizes to these, as ours does to model.min/max_size
    # (its defaults, 600 and 1000, give the same at 600 x 800).
    min_size, max_size = min(size), max(size)
    if example is None:
        example = bench_example('random', size)
    img, bbox, label = example
    on_gpu = gpu >= 0
    if on_gpu:
        if not tv.cuda:
            raise RuntimeError('torch sees no CUDA device')
        torch.cuda.set_device(gpu)
    model = tv.FasterRCNNVGG16(n_fg_class=len(LABEL_NAMES))
    state = None
    if weights:
        state = {k: torch.from_numpy(v) for k, v in
                 _read_weights(weights).items()}
        model.load_state_dict(state)
    # As its train.py: the trainer (and the model in it) on the device.
    trainer = tv.FasterRCNNTrainer(model)
    if on_gpu:
        trainer = trainer.cuda()
    # As its data set's Transform: preprocess, resize_bbox, the scale
    # measured on the height (data.util: imported with the checkout).
    util = importlib.import_module('data.util')
    prepared = numpy.asarray(tv.preprocess(img, min_size, max_size),
                             numpy.float32)
    prepared_bbox = util.resize_bbox(bbox, img.shape[1:],
                                     prepared.shape[1:])
    scale = prepared.shape[1] / float(img.shape[1])
    _write_input(input_file, prepared, prepared_bbox, scale)
    batch = [torch.from_numpy(prepared[None].copy()),
             torch.from_numpy(prepared_bbox[None].astype(numpy.float32)),
             torch.from_numpy(label[None].astype(numpy.int32))]
    if on_gpu:
        batch = [t.cuda() for t in batch]
    counts = Counts()
    counts.install(model.rpn, trainer)

    def synced(call):
        def run():
            call()
            if on_gpu:
                torch.cuda.synchronize()
        return run

    model.train()
    result.update(_runs_figures('iteration', run_times(
        synced(lambda: trainer.train_step(*batch, scale)), repeat)))

    if state is not None:
        model.load_state_dict(state)  # predict from the starting weights
    counts.phase = 'predict'

    def predict():
        x = numpy.asarray(tv.preprocess(img, min_size, max_size),
                          numpy.float32)
        with torch.no_grad():
            bboxes, _, _ = model.predict(torch.from_numpy(x[None].copy()),
                                         [img.shape[1:]], visualize=False)
        counts.add('detections', len(bboxes[0]))
    model.use_preset('evaluate')
    result.update(_runs_figures('predict',
                                run_times(synced(predict), repeat)))
    result.update({'counts': counts.as_dict(),
                   'torch_threads': torch.get_num_threads(),
                   'torch': torch_environment(torch),
                   'torch_sgemm_gflops': torch_speed(torch)})
    if on_gpu:
        result['memory'] = ('torch.cuda max allocated',
                            torch.cuda.max_memory_allocated())
    else:
        result['memory'] = peak_memory(-1)
    result['sgemm_gflops'].append(blas_speed())
    return result


def export_weights(root, size, demo, path):
    """Build our model once (seeded, as every side does) and write its
    starting weights, PyTorch-named, to ``path``: every side loads them."""
    from fasterrcnn.weights.state_dict import export_state_dict
    _, model = build(root, -1, size, demo)
    numpy.savez(path, **export_state_dict(model))


def machine():
    """The CPU (``/proc/cpuinfo``'s model name and the vector
    instructions that choose kernels), the cores this process may use,
    the system."""
    from fasterrcnn.cpu_threads import cpu_threads
    model, flags = None, set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name' and model is None:
                    model = value.strip()
                elif key.strip() == 'flags' and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {'cpu': model or platform.processor() or platform.machine(),
            'simd': [f for f in ('avx', 'avx2', 'fma', 'avx512f',
                                 'avx512_bf16', 'amx_tile') if f in flags],
            'cores': cpu_threads(), 'logical_cpus': os.cpu_count(),
            'system': platform.platform()}


def _input_file(root, side):
    return os.path.join(root, 'input_{}.npz'.format(side))


def run_side(side, args, root, weights):
    """One side in a process of its own (``OPENBLAS_CORETYPE`` set to
    ``args.coretype`` there when given); its figures (a dict)."""
    command = [sys.executable, os.path.abspath(__file__), '--side', side,
               '--root', root, '--weights', weights, '--repeat',
               str(args.repeat), '--size'] + [str(v) for v in args.size]
    if args.demo:
        command.append('--demo')
    command += ['--gpu', str(args.gpu)]
    if side == 'torch':
        command += ['--torch-repo', args.torch_repo,
                    '--torch-malloc', args.torch_malloc]
    env = dict(os.environ)
    if args.coretype:
        env['OPENBLAS_CORETYPE'] = args.coretype
    out = subprocess.run(command, stdout=subprocess.PIPE, check=True,
                         universal_newlines=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare_inputs(root, sides):
    """The largest differences between what the sides trained on, each
    against the first side: the network input (or its two shapes), the
    boxes, the scale."""
    inputs = {}
    for side in sides:
        path = _input_file(root, side)
        if os.path.isfile(path):
            inputs[side] = _read_weights(path)
    if not inputs:
        return None
    first = next(iter(inputs))
    ref = inputs[first]
    out = {'reference': first, 'shape': list(ref['img'].shape),
           'scale': float(ref['scale']), 'bbox': ref['bbox'].tolist(),
           'differences': {}}
    for side, got in inputs.items():
        if side == first:
            continue
        same = got['img'].shape == ref['img'].shape
        out['differences'][side] = {
            'image': float(abs(got['img'] - ref['img']).max()) if same
            else 'shape {}'.format(list(got['img'].shape)),
            'bbox': float(abs(got['bbox'] - ref['bbox']).max())
            if got['bbox'].shape == ref['bbox'].shape else 'shape',
            'scale': abs(float(got['scale']) - float(ref['scale']))}
    return out


NAMES = {'ours': 'ours', 'chainer': "Chainer's functions (before)",
         'torch': 'PyTorch version'}


def _ms(value):
    return '-' if value is None else '{:.0f} ms'.format(value * 1e3)


def _ms_spread(figures, key):
    """``median ms (min-max)``, or the median alone without a spread."""
    value = figures.get(key)
    s = figures.get(key + '_spread')
    if value is None or not s or s['n'] < 2:
        return _ms(value)
    return '{:.0f} ms ({:.0f}-{:.0f})'.format(value * 1e3, s['min'] * 1e3,
                                              s['max'] * 1e3)


def _ratio(a, b):
    return '-' if a is None or b is None else '{:.2f}'.format(a / b)


def _ratio_spread(figures, torch, key):
    """The ratio of the medians, with its range (fastest against slowest,
    slowest against fastest) where both sides have several runs."""
    text = _ratio(figures.get(key), torch.get(key))
    a, b = figures.get(key + '_spread'), torch.get(key + '_spread')
    if text == '-' or not a or not b or min(a['n'], b['n']) < 2:
        return text
    return '{} ({:.2f}-{:.2f})'.format(text, a['min'] / b['max'],
                                       a['max'] / b['min'])


def format_table(results):
    """Markdown: one column per side (median, and the fastest and slowest
    run), ratios to the PyTorch version (of the medians, with their
    range)."""
    sides = [s for s in ('ours', 'chainer', 'torch') if s in results]
    torch = results.get('torch')
    header = '| | ' + ' | '.join(NAMES[s] for s in sides)
    if torch:
        header += ' | ' + ' | '.join(
            '{} / PyTorch'.format(NAMES[s].split(' (')[0])
            for s in sides if s != 'torch')
    lines = [header + ' |', '|---' * (header.count('|')) + '|']

    def row(label, key, stage=False):
        if stage:
            cells = [_ms(results[s].get('stages', {}).get(key))
                     if s != 'torch' else '-' for s in sides]
            if torch:
                cells += ['' for s in sides if s != 'torch']
        else:
            cells = [_ms_spread(results[s], key) for s in sides]
            if torch:
                cells += [_ratio_spread(results[s], torch, key)
                          for s in sides if s != 'torch']
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


def _count_cell(values):
    """The first call's count, with the range over all calls."""
    if not values:
        return '-'
    if min(values) == max(values):
        return str(values[0])
    return '{} ({}-{})'.format(values[0], min(values), max(values))


def format_counts(results):
    """Markdown: what the image made each side do (the first training
    iteration, from the same weights on every side, and the range over
    all; every predict starts from those weights)."""
    sides = [s for s in ('ours', 'chainer', 'torch')
             if 'counts' in results.get(s, {})]
    if not sides:
        return ''
    header = ' | '.join(NAMES[s] for s in sides)
    lines = ['| count: first (range) | ' + header + ' |',
             '|---' * (len(sides) + 1) + '|']
    for phase, names in (('train', TRAIN_COUNTS),
                         ('predict', PREDICT_COUNTS)):
        for name in names:
            lines.append('| {}: {} | {} |'.format(
                'training' if phase == 'train' else 'predict', name,
                ' | '.join(_count_cell(results[s]['counts'][phase][name])
                           for s in sides)))
    return '\n'.join(lines)


def _others(figures):
    shares = [v for key in ('iteration_others', 'predict_others')
              for v in figures.get(key) or () if v is not None]
    return max(shares) if shares else None


def format_environment(results, machine_info=None, inputs=None):
    """Plain lines: the machine, each side's versions, BLAS, kernel,
    threads, GEMM speed and disturbance, and how equal the inputs were."""
    lines = []
    if machine_info:
        lines.append('CPU: {} ({} cores for this process; {})'.format(
            machine_info['cpu'], machine_info['cores'],
            ', '.join(machine_info['simd']) or 'no AVX'))
    for side in ('ours', 'chainer', 'torch'):
        figures = results.get(side)
        if not figures or 'environment' not in figures:
            continue
        env = figures['environment']
        blas = [lib for lib in env['blas'] or () if lib['numpy']]
        blas_text = 'threadpoolctl missing' if env['blas'] is None else \
            '; '.join('{} {} kernel {} with {} threads'.format(
                lib['internal_api'], lib['version'], lib['architecture'],
                lib['num_threads']) for lib in blas) or 'not found'
        gflops = figures.get('sgemm_gflops') or []
        lines.append(
            '{}: numpy {}, its BLAS {}; OPENBLAS_CORETYPE {}; NumPy sgemm '
            '{} GFLOP/s (before / after); malloc {}'.format(
                NAMES[side], env['numpy'], blas_text,
                env['OPENBLAS_CORETYPE'] or 'unset (default kernel)',
                ' / '.join('{:.0f}'.format(g) for g in gflops),
                figures.get('malloc', '-')))
        if 'torch' in figures:
            t = figures['torch']
            lines.append(
                '  torch {}, {} threads ({} inter-op), BLAS {} (MKL {}), '
                'convolutions oneDNN {}{}, {}; torch sgemm {:.0f} GFLOP/s '
                '(OPENBLAS_CORETYPE does not choose these kernels)'.format(
                    t['torch'], t['threads'], t['interop_threads'],
                    t['blas'], t['mkl'], t['onednn'],
                    '' if t['onednn_used'] else ' (off)',
                    t['cpu_capability'], figures['torch_sgemm_gflops']))
        others = _others(figures)
        if others is not None:
            lines.append('  other processes took at most {:.0%} of the CPUs '
                         'during its timed runs{}'.format(
                             others, ': DISTURBED, run again'
                             if others > DISTURBED else ''))
    if inputs:
        lines.append('Input ({}): {} network input, scale {:.4g}, {} boxes'
                     .format(NAMES[inputs['reference']],
                             ' x '.join(str(v) for v in inputs['shape']),
                             inputs['scale'], len(inputs['bbox'])))
        for side, diff in inputs['differences'].items():
            lines.append('  {} against it: image {}, boxes {}, scale {}'
                         .format(NAMES[side], *(
                             v if isinstance(v, str) else
                             'max |diff| {:.3g}'.format(v)
                             for v in (diff['image'], diff['bbox'],
                                       diff['scale']))))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--gpu', type=int, default=-1)
    parser.add_argument('--size', type=int, nargs=2, default=(600, 800),
                        metavar=('H', 'W'))
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--image', default='random',
                        choices=('random', 'shapes'),
                        help='the example every side trains and predicts '
                        'on: uniform noise with three boxes, or the first '
                        'synthetic shapes image with its own boxes')
    parser.add_argument('--demo', action='store_true',
                        help="the demo's narrow VGG16 instead of the full one")
    parser.add_argument('--torch-repo', metavar='PATH',
                        help='a checkout of simple-faster-rcnn-pytorch: '
                        'time it too (needs torch)')
    parser.add_argument('--torch-malloc', default='keep',
                        choices=('keep', 'default'),
                        help="glibc's allocator on the PyTorch side: as on "
                        "ours (keep freed memory), or glibc's defaults")
    parser.add_argument('--coretype', metavar='NAME',
                        help="OPENBLAS_CORETYPE for every side's process "
                        '(e.g. Haswell; NumPy\'s OpenBLAS only)')
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
        example = read_example(os.path.join(args.root, 'example.npz'))
        input_file = _input_file(args.root, args.side)
        if args.side == 'torch':
            result = run_torch(args.root, args.torch_repo, args.size,
                               args.repeat, args.weights, gpu=args.gpu,
                               example=example, malloc=args.torch_malloc,
                               input_file=input_file)
        else:
            with chainer.using_config('fasterrcnn_cpu_kernels',
                                      args.side == 'ours'):
                result = run_ours(args.root, args.gpu, args.size,
                                  args.repeat, args.demo, args.weights,
                                  example=example, input_file=input_file)
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
    with tempfile.TemporaryDirectory() as root:
        weights = os.path.join(root, 'weights.npz')
        export_weights(root, args.size, args.demo, weights)
        write_example(os.path.join(root, 'example.npz'),
                      bench_example(args.image, args.size, root))
        for side in sides:
            print('timing {} ...'.format(side), file=sys.stderr)
            results[side] = run_side(side, args, root, weights)
        inputs = compare_inputs(root, sides)
    info = machine()
    print(format_table(results))
    counts = format_counts(results)
    if counts:
        print('\n' + counts)
    print('\n' + format_environment(results, info, inputs))
    if args.json:
        settings = {'image': args.image, 'size': list(args.size),
                    'repeat': args.repeat, 'demo': args.demo,
                    'coretype': args.coretype,
                    'torch_malloc': args.torch_malloc, 'gpu': args.gpu}
        with open(args.json, 'w') as f:
            json.dump(dict(results, machine=info, inputs=inputs,
                           settings=settings), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
