"""Speed of every VGG16 layer of the extractor on the CPU: ours, Chainer's
own functions and torch's, in one run.

    python bench/conv.py [--size 600 800] [--repeat 3] [--layers conv1_2 ...]

For each convolution (at the resolution it runs at for a ``--size`` input):
forward, and forward with both gradients (``gx`` and ``gW``, what a
trainable layer costs), in milliseconds and GFLOP/s, for
:func:`fasterrcnn.functions.convolution.convolution_2d`, for
``chainer.functions.convolution_2d`` and, when torch imports, for
``torch.nn.functional.conv2d`` (its own threads, one per core). Then the 2 x 2
max poolings and the ReLUs the same way, and the totals. The last column is
the largest difference between our output and Chainer's. Medians of
``--repeat`` runs after a warm-up.
"""

import argparse
import sys

import numpy

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
import chainer
import chainer.functions as F

from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.functions import convolution as ours
from fasterrcnn.functions import pooling as our_pooling
from fasterrcnn.links.backbones.vgg16 import VGG16_CHANNELS, VGG16_DEPTHS

from timing import median_time


def layers(size):
    """``[(name, kind, C_in, C_out, H, W)]`` of the VGG16 extractor for an
    input of ``size``: convolutions, poolings and ReLUs in order."""
    h, w = size
    c_in = 3
    out = []
    for b, depth in enumerate(VGG16_DEPTHS):
        for k in range(depth):
            name = 'conv{}_{}'.format(b + 1, k + 1)
            out.append((name, 'conv', c_in, VGG16_CHANNELS[b], h, w))
            out.append(('relu' + name[4:], 'relu', VGG16_CHANNELS[b],
                        VGG16_CHANNELS[b], h, w))
            c_in = VGG16_CHANNELS[b]
        if b < 4:
            out.append(('pool{}'.format(b + 1), 'pool', c_in, c_in, h, w))
            h, w = h // 2, w // 2
    return out


def _conv_flop(c_in, c_out, h, w):
    return 2. * c_in * c_out * 9 * h * w


def _load_torch():
    try:
        import torch
        return torch
    except Exception as error:
        print('torch not importable ({}): no torch column'.format(
            error.__class__.__name__), file=sys.stderr)
        return None


def _fwd_bwd(fn, args, grad):
    """Forward and backward of a Chainer function over fresh Variables."""
    def run():
        variables = [chainer.Variable(a) for a in args]
        y = fn(*variables)
        y.grad = grad
        y.backward()
    return run


def _torch_fwd_bwd(torch, fn, args, grad):
    def run():
        tensors = [torch.from_numpy(a).requires_grad_() for a in args]
        y = fn(*tensors)
        y.backward(torch.from_numpy(grad))
    return run


def _layer_inputs(layer, rng):
    """The arrays of one row, and our, Chainer's and torch's function."""
    name, kind, c_in, c_out, h, w = layer
    x = rng.uniform(-1, 1, (1, c_in, h, w)).astype(numpy.float32)
    if kind == 'conv':
        W = rng.normal(0, 0.05, (c_out, c_in, 3, 3)).astype(numpy.float32)
        b = rng.normal(0, 0.1, c_out).astype(numpy.float32)
        return ((x, W, b),
                lambda x, W, b: ours.convolution_2d(x, W, b, 1, 1),
                lambda x, W, b: F.convolution_2d(x, W, b, 1, 1),
                lambda torch, x, W, b: torch.nn.functional.conv2d(
                    x, W, b, 1, 1))
    if kind == 'pool':
        return ((x,),
                lambda x: our_pooling.max_pooling_2d(x, 2, 2,
                                                     cover_all=False),
                lambda x: F.max_pooling_2d(x, 2, 2, cover_all=False),
                lambda torch, x: torch.nn.functional.max_pool2d(x, 2, 2))
    return (x,), F.relu, F.relu, lambda torch, x: torch.relu(x)


def measure_layer(layer, repeat, rng):
    """One row: seconds of ours and Chainer's, and their agreement."""
    name, kind, c_in, c_out, h, w = layer
    args, mine, chainers, _ = _layer_inputs(layer, rng)
    row = {'layer': name, 'shape': '{}x{}x{}'.format(c_in, h, w)}
    if kind == 'conv':
        row['flop'] = _conv_flop(c_in, c_out, h, w)
    y_ours = mine(*args).array
    row['agree'] = float(numpy.abs(y_ours - chainers(*args).array).max())
    grad = rng.uniform(-1, 1, y_ours.shape).astype(numpy.float32)
    with chainer.no_backprop_mode():
        row['ours'] = median_time(lambda: mine(*args), repeat)
        row['chainer'] = median_time(lambda: chainers(*args), repeat)
    row['ours_bwd'] = median_time(_fwd_bwd(mine, args, grad), repeat)
    row['chainer_bwd'] = median_time(_fwd_bwd(chainers, args, grad), repeat)
    return row


def measure_torch(row, layer, repeat, torch, rng):
    """Adds torch's seconds to ``row`` (after every NumPy row: torch's
    OpenMP threads keep spinning a while after its calls, which would slow
    whatever NumPy runs next)."""
    args, _, _, fn = _layer_inputs(layer, rng)
    tensors = [torch.from_numpy(a) for a in args]
    with torch.no_grad():
        y = fn(torch, *tensors)
        row['torch'] = median_time(lambda: fn(torch, *tensors), repeat)
    grad = rng.uniform(-1, 1, tuple(y.shape)).astype(numpy.float32)
    row['torch_bwd'] = median_time(_torch_fwd_bwd(
        torch, lambda *t: fn(torch, *t), args, grad), repeat)


def _ms(seconds, flop=None):
    if seconds is None:
        return '-'
    if flop:
        return '{:.0f} ms ({:.0f})'.format(seconds * 1e3,
                                           flop / seconds / 1e9)
    return '{:.0f} ms'.format(seconds * 1e3)


def format_table(rows):
    """Markdown: one row per layer, then the totals (GFLOP/s in
    parentheses for the convolutions' forward)."""
    keys = ('ours', 'chainer', 'torch', 'ours_bwd', 'chainer_bwd',
            'torch_bwd')
    lines = ['| layer | input | ours fwd | chainer fwd | torch fwd | '
             'ours fwd+bwd | chainer fwd+bwd | torch fwd+bwd | '
             'max abs diff |', '|---' * 9 + '|']
    for row in rows:
        flop = row.get('flop')
        lines.append('| {} | {} | {} | {} | {} | {} | {} | {} | {:.1e} |'
                     .format(row['layer'], row['shape'],
                             *[_ms(row.get(k), flop if i < 3 else None)
                               for i, k in enumerate(keys)], row['agree']))
    flop = sum(row.get('flop', 0.) for row in rows)
    total = {k: (sum(row[k] for row in rows) if all(k in row for row in rows)
                 else None) for k in keys}
    lines.append('| **all** | | {} | {} | {} | {} | {} | {} | |'.format(
        *[_ms(total[k], flop if i < 3 else None)
          for i, k in enumerate(keys)]))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, nargs=2, default=(600, 800),
                        metavar=('H', 'W'))
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--layers', nargs='*',
                        help='only these (conv1_2, relu1_2, pool1, ...)')
    parser.add_argument('--no-torch', action='store_true')
    args = parser.parse_args(argv)
    keep_freed_memory()
    torch = None if args.no_torch else _load_torch()
    rng = numpy.random.RandomState(0)
    rows, chosen = [], []
    for layer in layers(args.size):
        if args.layers and layer[0] not in args.layers:
            continue
        chosen.append(layer)
        rows.append(measure_layer(layer, args.repeat, rng))
        print(format_table(rows[-1:]).splitlines()[-2], file=sys.stderr)
    if torch is not None:
        for row, layer in zip(rows, chosen):
            measure_torch(row, layer, args.repeat, torch, rng)
    if torch is not None:
        print('torch threads: {}'.format(torch.get_num_threads()))
    print(format_table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
