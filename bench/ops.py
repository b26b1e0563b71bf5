"""Speed of the numeric primitives against Chainer's own and torchvision's.

    python bench/ops.py [--gpu 0] [--repeat 7]

Prints one table, every figure measured in this run, medians of ``--repeat``
runs after one warm-up:

* RoI pooling forward+backward, ``(1, 512, 38, 50)`` float32 map (a
  600 x 800 image at stride 16), 7 x 7 bins at 1/16, R = 128 and R = 300;
  then the forward alone with no graph (``predict``: no arg-max kept) at
  R = 300, and at R = 300 on the demo's ``(1, 64, 12, 16)`` map (a 192 x
  256 image);
* NMS of 12000 random boxes at IoU 0.7 (the training-time proposal NMS).

The process runs with :func:`fasterrcnn.backend.keep_freed_memory`, as the
training script does (``--default-malloc`` to leave malloc alone); the
torchvision columns run in the same process. Columns: this project's NumPy
twin, its CuPy kernels (with ``--gpu``),
Chainer's built-in ``roi_pooling_2d`` (R = 128 only: it is a Python loop),
``torchvision.ops`` when importable (same device as the column it is compared
with), and the ratio of ours to torchvision. The last column checks that the
outputs agree (max |difference| of the pooled values, identical kept indices).
"""

import argparse
import sys

import numpy

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
import chainer
import chainer.functions as F

from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.cli.common import UserError, select_gpu
from fasterrcnn.functions.roi_pooling import numpy_workspace as roi_workspace
from fasterrcnn.functions.roi_pooling import roi_pooling_2d
from fasterrcnn.nms import non_maximum_suppression

from timing import median_time


def make_rois(rng, r, size=(608, 800)):
    """Random RoIs inside the image, 16 to 500 pixels a side (at most
    0.9 of the image's shorter side)."""
    longest = min(500, 0.9 * min(size))
    h = rng.uniform(16, longest, r)
    w = rng.uniform(16, longest, r)
    y0 = rng.uniform(0, size[0] - h)
    x0 = rng.uniform(0, size[1] - w)
    return numpy.stack([y0, x0, y0 + h, x0 + w], axis=1).astype(numpy.float32)


def make_boxes(rng, n, size=(608, 800)):
    h = rng.uniform(8, 300, n)
    w = rng.uniform(8, 300, n)
    y0 = rng.uniform(-50, size[0] - h + 50)
    x0 = rng.uniform(-50, size[1] - w + 50)
    bbox = numpy.stack([y0, x0, y0 + h, x0 + w], axis=1).astype(numpy.float32)
    return bbox, rng.uniform(size=n).astype(numpy.float32)


def ours_roi_pool(xp, x, rois, roi_indices):
    xv = chainer.Variable(xp.asarray(x))
    rois, roi_indices = xp.asarray(rois), xp.asarray(roi_indices)
    gy = xp.ones((len(rois), x.shape[1], 7, 7), dtype=numpy.float32)

    def run():
        xv.cleargrad()
        y = roi_pooling_2d(xv, rois, roi_indices, 7, 1 / 16)
        y.grad = gy
        y.backward()
        return y.array
    return run


def ours_roi_pool_forward(x, rois, roi_indices):
    """The forward alone, as ``predict`` runs it (no graph)."""
    def run():
        with chainer.no_backprop_mode():
            return roi_pooling_2d(x, rois, roi_indices, 7, 1 / 16).array
    return run


def torch_roi_pool_forward(torch, ops, x, rois, roi_indices):
    xt = torch.tensor(x)
    boxes = torch.tensor(numpy.concatenate(
        [roi_indices[:, None].astype(numpy.float32), rois[:, [1, 0, 3, 2]]],
        axis=1))

    def run():
        with torch.no_grad():
            return ops.roi_pool(xt, boxes, (7, 7), 1 / 16).numpy()
    return run


def chainer_roi_pool(x, rois, roi_indices):
    xv = chainer.Variable(x)
    # chainer's RoIs: (index, x_min, y_min, x_max, y_max)
    rois5 = numpy.concatenate(
        [roi_indices[:, None].astype(numpy.float32), rois[:, [1, 0, 3, 2]]],
        axis=1)
    gy = numpy.ones((len(rois), x.shape[1], 7, 7), dtype=numpy.float32)

    def run():
        xv.cleargrad()
        y = F.roi_pooling_2d(xv, rois5, 7, 7, 1 / 16)
        y.grad = gy
        y.backward()
        return y.array
    return run


def torch_roi_pool(torch, ops, device, x, rois, roi_indices):
    xt = torch.tensor(x, device=device, requires_grad=True)
    boxes = torch.tensor(numpy.concatenate(
        [roi_indices[:, None].astype(numpy.float32), rois[:, [1, 0, 3, 2]]],
        axis=1), device=device)
    gy = torch.ones((len(rois), x.shape[1], 7, 7), device=device)

    def run():
        xt.grad = None
        y = ops.roi_pool(xt, boxes, (7, 7), 1 / 16)
        y.backward(gy)
        return y.detach().cpu().numpy()
    return run


def load_torch():
    try:
        import torch
        import torchvision.ops as ops
        return torch, ops
    except Exception as error:  # any import failure: no torchvision column
        print('torchvision not importable ({}): no torchvision column'.format(
            error.__class__.__name__), file=sys.stderr)
        return None, None


def blas_info():
    """NumPy's BLAS: library, version, kernel and thread count."""
    try:
        import threadpoolctl
    except ImportError:
        return '-'
    return ', '.join(
        '{} {} {} ({} threads)'.format(
            info.get('internal_api'), info.get('version'),
            info.get('architecture'), info.get('num_threads'))
        for info in threadpoolctl.threadpool_info()
        if info.get('user_api') == 'blas') or '-'


def fmt(seconds):
    return '-' if seconds is None else '{:.1f} ms'.format(seconds * 1e3)


def ratio(a, b):
    return '-' if a is None or b is None else '{:.2f}'.format(a / b)


def measure(gpu=-1, repeat=7, builtin=True):
    """Every figure of the table, measured now.

    Args:
        gpu (int): GPU id for the CuPy and torchvision GPU columns, or -1.
        repeat (int): timed runs per figure (median), after one warm-up.
        builtin (bool): also time Chainer's built-in RoI pooling (a Python
            loop: about 40 s on 2 cores).

    Returns:
        list of dict: one row per operation (seconds; missing columns
        absent) with its ``agree`` text.
    """
    torch, ops = load_torch()
    cupy = None
    if gpu >= 0:
        import cupy
        cupy.cuda.Device(gpu).use()
    rng = numpy.random.RandomState(0)
    x = rng.randn(1, 512, 38, 50).astype(numpy.float32)
    rows = []
    for r in (128, 300):
        rois = make_rois(rng, r)
        roi_indices = numpy.zeros(r, numpy.int32)
        ours = ours_roi_pool(numpy, x, rois, roi_indices)
        row = {'op': 'RoI pool fwd+bwd R={}'.format(r),
               'numpy': median_time(ours, repeat)}
        agree = []
        if r == 128 and builtin:
            row['chainer'] = median_time(
                chainer_roi_pool(x, rois, roi_indices), 1)
        if torch is not None:
            tv = torch_roi_pool(torch, ops, 'cpu', x, rois, roi_indices)
            row['tv_cpu'] = median_time(tv, repeat)
            agree.append('cpu max|d| {:.1e}'.format(
                numpy.abs(ours() - tv()).max()))
        if cupy is not None:
            ours_gpu = ours_roi_pool(cupy, x, rois, roi_indices)
            sync = cupy.cuda.Device().synchronize
            row['cupy'] = median_time(ours_gpu, repeat, sync)
            agree.append('cupy=numpy {}'.format(
                bool((cupy.asnumpy(ours_gpu()) == ours()).all())))
            if torch is not None and torch.cuda.is_available():
                tv_gpu = torch_roi_pool(torch, ops, 'cuda', x, rois,
                                        roi_indices)
                row['tv_gpu'] = median_time(tv_gpu, repeat,
                                            torch.cuda.synchronize)
        row['agree'] = ', '.join(agree)
        rows.append(row)

    for shape, size in (((1, 512, 38, 50), (608, 800)),
                        ((1, 64, 12, 16), (192, 256))):
        fx = x if shape == x.shape else rng.randn(*shape).astype(
            numpy.float32)
        rois = make_rois(rng, 300, size)
        roi_indices = numpy.zeros(300, numpy.int32)
        ours = ours_roi_pool_forward(fx, rois, roi_indices)
        row = {'op': 'RoI pool fwd, no graph, R=300, C={} {}x{}'.format(
            *shape[1:]), 'numpy': median_time(ours, repeat)}
        if torch is not None:
            tv = torch_roi_pool_forward(torch, ops, fx, rois, roi_indices)
            row['tv_cpu'] = median_time(tv, repeat)
            row['agree'] = 'cpu max|d| {:.1e}'.format(
                numpy.abs(ours() - tv()).max())
        else:
            row['agree'] = ''
        rows.append(row)

    bbox, score = make_boxes(rng, 12000)
    row = {'op': 'NMS 12000 boxes @0.7',
           'numpy': median_time(
               lambda: non_maximum_suppression(bbox, 0.7, score), repeat)}
    ours_keep = non_maximum_suppression(bbox, 0.7, score)
    agree = ['kept {}'.format(len(ours_keep))]
    if torch is not None:
        # torchvision wants (x_min, y_min, x_max, y_max); IoU is symmetric in
        # the axes, so the PyTorch version passes (y, x) boxes unchanged.
        bt, st = torch.tensor(bbox), torch.tensor(score)
        row['tv_cpu'] = median_time(lambda: ops.nms(bt, st, 0.7), repeat)
        agree.append('same as tv {}'.format(
            numpy.array_equal(ops.nms(bt, st, 0.7).numpy(), ours_keep)))
    if cupy is not None:
        bc, sc = cupy.asarray(bbox), cupy.asarray(score)
        sync = cupy.cuda.Device().synchronize
        row['cupy'] = median_time(
            lambda: non_maximum_suppression(bc, 0.7, sc), repeat, sync)
        agree.append('cupy=numpy {}'.format(numpy.array_equal(
            cupy.asnumpy(non_maximum_suppression(bc, 0.7, sc)), ours_keep)))
        if torch is not None and torch.cuda.is_available():
            bg, sg = bt.cuda(), st.cuda()
            row['tv_gpu'] = median_time(lambda: ops.nms(bg, sg, 0.7),
                                        repeat, torch.cuda.synchronize)
    row['agree'] = ', '.join(agree)
    rows.append(row)

    return rows


def format_table(rows):
    """The rows as a Markdown table."""
    header = ('| op | ours NumPy | torchvision CPU | NumPy / tv | '
              'chainer built-in | ours CuPy | torchvision GPU | CuPy / tv | '
              'agreement |')
    lines = [header, '|' + '---|' * (header.count('|') - 1)]
    for row in rows:
        lines.append('| {} | {} | {} | {} | {} | {} | {} | {} | {} |'.format(
            row['op'], fmt(row['numpy']), fmt(row.get('tv_cpu')),
            ratio(row['numpy'], row.get('tv_cpu')), fmt(row.get('chainer')),
            fmt(row.get('cupy')), fmt(row.get('tv_gpu')),
            ratio(row.get('cupy'), row.get('tv_gpu')), row['agree']))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--gpu', type=int, default=-1)
    parser.add_argument('--repeat', type=int, default=7)
    parser.add_argument('--no-builtin', action='store_true',
                        help="skip Chainer's built-in RoI pooling")
    parser.add_argument('--default-malloc', action='store_true',
                        help="leave glibc's malloc as it is (the training "
                        'script calls keep_freed_memory(), so does this '
                        'benchmark by default)')
    args = parser.parse_args(argv)
    if args.gpu >= 0:
        # CuPy missing or no device: one line saying what to install.
        try:
            select_gpu(args.gpu)
        except UserError as e:
            parser.exit(2, '{}: error: {}\n'.format(parser.prog, e))
    tuned = False if args.default_malloc else keep_freed_memory()
    rows = measure(args.gpu, args.repeat, builtin=not args.no_builtin)
    torch, _ = load_torch()
    print('torch threads: {}, keep_freed_memory: {}, roi_pool threads: {}, '
          'BLAS: {}'.format(
              torch.get_num_threads() if torch is not None else '-',
              tuned, roi_workspace._threads(), blas_info()))
    print(format_table(rows))


if __name__ == '__main__':
    main()
