"""The matrix products of a VGG16 ``predict`` and training iteration, timed
alone: what a step would take on this BLAS if nothing but its products ran.

    python bench/floor.py [--size 600 800] [--repeat 3]
                          [--torch-ms PREDICT ITERATION]

Every product ours computes for one image at ``--size`` (the network
input), with the shapes ours gives it:

* each 3 x 3 convolution of the extractor and the RPN: Winograd's 16
  products ``(O x C) @ (C x tiles)`` where ``winograd.pays`` picks it,
  else the im2col product ``(O x 9C) @ (9C x cells)``;
* the RPN's 1 x 1 convolutions, and the head's fully connected layers
  for 300 RoIs (``predict``) or 128 (a training step);
* in a training step also the input and weight gradients of the
  trainable layers (conv3_1 .. conv5_3, conv3_1 without its input
  gradient, as the model computes it; the RPN; the head).

Each is timed as one ``matmul`` over the whole product on the BLAS's own
threads and as its columns cut in one part per core (each on a thread of
its own, the BLAS at one, as the tiles and bands run), the faster of the
two counting; nothing around it (no copies, no transforms). What a step
takes beyond the sum is everything that is not a product:
Winograd's transforms, im2col's copies, ReLU, pooling, RoI pooling, the
proposals, NMS, the optimizer, Python. With ``--torch-ms`` (the PyTorch
version's medians from ``bench/train_step.py``) it prints what a target
of 0.8 of those leaves for that rest.
"""

import argparse
import sys

import numpy

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)

from conv import layers

from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.cpu_threads import cpu_threads, run_parallel
from fasterrcnn.functions.convolution import winograd
from fasterrcnn.links.backbones.vgg16 import VGG16_CHANNELS

from timing import run_times

#: RoIs through the head: ``predict``'s proposals after NMS (the
#: ``evaluate`` preset) and a training step's sampled RoIs.
PREDICT_ROIS = 300
TRAIN_ROIS = 128
#: The head: RoI pooling to 7 x 7 of 512 channels, fc6, fc7, then the
#: scores and box offsets of bench/train_step.py's 3 classes and the
#: background (4 + 16).
HEAD = ((512 * 7 * 7, 4096), (4096, 4096), (4096, 4 + 16))
#: The RPN: a 3 x 3 convolution of 512 channels, then 1 x 1 ones to 9
#: anchors' 2 scores and 4 offsets.
RPN_CHANNELS = 512
RPN_OUT = 9 * (2 + 4)
#: The first trainable convolution (conv1_1 .. conv2_2 frozen, as in the
#: PyTorch version); its input gradient is never computed.
FIRST_TRAINABLE = 'conv3_1'


def _conv_products(name, c_in, c_out, h, w, steps):
    """``[(label, (batch, rows, inner, columns))]`` of one 3 x 3
    stride-1 convolution (padding 1) for ``steps`` among ``'forward'``,
    ``'gx'``, ``'gW'``."""
    wino = winograd.pays(1, c_in, c_out, h, w)
    tiles = -(-h // 2) * -(-w // 2)
    cells = h * w
    out = []
    for step in steps:
        if wino:
            shape = {'forward': (16, c_out, c_in, tiles),
                     'gx': (16, c_in, c_out, tiles),
                     'gW': (16, c_out, tiles, c_in)}[step]
        else:
            shape = {'forward': (1, c_out, 9 * c_in, cells),
                     'gx': (1, c_in, 9 * c_out, cells),
                     'gW': (1, c_out, cells, 9 * c_in)}[step]
        out.append(('{} {}{}'.format(name, step, ' (W)' if wino else ''),
                    shape))
    return out


def products(size, training, channels=VGG16_CHANNELS):
    """``[(label, (batch, rows, inner, columns))]``: every product of a
    ``predict`` (``training`` False) or a training step at ``size``."""
    out = []
    trainable = False
    h = w = None
    for name, kind, c_in, c_out, h, w in layers(size, channels):
        if kind != 'conv':
            continue
        trainable = trainable or name == FIRST_TRAINABLE
        steps = ['forward']
        if training and trainable:
            steps += ['gW'] if name == FIRST_TRAINABLE else ['gx', 'gW']
        out += _conv_products(name, c_in, c_out, h, w, steps)
    # The RPN reads conv5_3's output (h x w cells).
    steps = ['forward', 'gx', 'gW'] if training else ['forward']
    out += _conv_products('rpn conv', RPN_CHANNELS, RPN_CHANNELS, h, w,
                          steps)
    one = {'forward': (1, RPN_OUT, RPN_CHANNELS, h * w),
           'gx': (1, RPN_CHANNELS, RPN_OUT, h * w),
           'gW': (1, RPN_OUT, h * w, RPN_CHANNELS)}
    out += [('rpn 1x1 ' + step, one[step]) for step in steps]
    rois = TRAIN_ROIS if training else PREDICT_ROIS
    for k, (n_in, n_out) in enumerate(HEAD):
        name = ('fc6', 'fc7', 'scores, offsets')[k]
        out.append((name + ' forward', (1, rois, n_in, n_out)))
        if training:
            out.append((name + ' gx', (1, rois, n_out, n_in)))
            out.append((name + ' gW', (1, n_out, rois, n_in)))
    return out


def gflop(shape):
    batch, rows, inner, columns = shape
    return 2.0 * batch * rows * inner * columns / 1e9


def time_product(shape, repeat, rng):
    """Median and fastest seconds of the product ``shape``, the faster
    (by median) of two arrangements: one ``matmul`` on the BLAS's own
    threads, and its columns cut into one part per core, each on a
    thread of its own with the BLAS at one (as the tiles and bands run).
    """
    batch, rows, inner, columns = shape
    a = rng.standard_normal((batch, rows, inner), dtype=numpy.float32)
    b = rng.standard_normal((batch, inner, columns), dtype=numpy.float32)
    out = numpy.empty((batch, rows, columns), dtype=numpy.float32)
    parts = min(cpu_threads(), columns)
    bounds = numpy.linspace(0, columns, parts + 1).astype(int)
    outs = [numpy.empty((batch, rows, c1 - c0), dtype=numpy.float32)
            for c0, c1 in zip(bounds[:-1], bounds[1:])]

    def part(p):
        numpy.matmul(a, b[:, :, bounds[p]:bounds[p + 1]], out=outs[p])
    best = None
    for fn in (lambda: numpy.matmul(a, b, out=out),
               lambda: run_parallel(part, parts, blas=1)):
        runs = run_times(fn, repeat)
        timed = runs.spread()['median'], min(runs.times)
        if best is None or timed[0] < best[0]:
            best = timed
    return best


def measure(size, training, repeat, rng):
    """``[(label, shape, median s, fastest s)]`` of every product."""
    rows = []
    for label, shape in products(size, training):
        med, fastest = time_product(shape, repeat, rng)
        rows.append((label, shape, med, fastest))
    return rows


def format_rows(title, rows, torch_ms=None):
    """Markdown: ms and GFLOP/s per product, the sum, and with
    ``torch_ms`` what 0.8 of it leaves for the rest."""
    lines = ['{}: products alone'.format(title), '',
             '| product | shape (batch, rows, inner, columns) | ms | '
             'GFLOP/s |', '|---|---|---|---|']
    for label, shape, med, _ in rows:
        lines.append('| {} | {} | {:.1f} | {:.0f} |'.format(
            label, ' x '.join(str(v) for v in shape), med * 1e3,
            gflop(shape) / med))
    total = sum(row[2] for row in rows)
    fastest = sum(row[3] for row in rows)
    flops = sum(gflop(row[1]) for row in rows)
    lines.append('| **all** (fastest runs: {:.0f} ms) | {:.1f} GFLOP | {:.0f} '
                 '| {:.0f} |'.format(fastest * 1e3, flops, total * 1e3,
                                     flops / total))
    if torch_ms is not None:
        lines += ['', '0.8 x the PyTorch version\'s {:.0f} ms: {:.0f} ms, '
                  'of which the products alone take {:.0f}; {:.0f} ms '
                  'left for everything else'.format(
                      torch_ms, 0.8 * torch_ms, total * 1e3,
                      0.8 * torch_ms - total * 1e3)]
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, nargs=2, default=(600, 800),
                        metavar=('H', 'W'))
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--torch-ms', type=float, nargs=2, default=None,
                        metavar=('PREDICT', 'ITERATION'),
                        help="the PyTorch version's predict and training "
                             'iteration in ms (bench/train_step.py)')
    args = parser.parse_args(argv)
    keep_freed_memory()
    rng = numpy.random.default_rng(0)
    for k, (title, training) in enumerate((('predict', False),
                                           ('training iteration', True))):
        rows = measure(tuple(args.size), training, args.repeat, rng)
        torch_ms = args.torch_ms[k] if args.torch_ms else None
        print(format_rows(title, rows, torch_ms))
        print()
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
