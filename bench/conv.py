"""Speed of every VGG16 layer of the extractor on the CPU: ours, Chainer's
own functions and torch's, in one run.

    python bench/conv.py [--size 600 800] [--repeat 3] [--layers conv1_2 ...]
    python bench/conv.py --winograd [--size H W] [--repeat 3] [--layers ...]
    python bench/conv.py --error [--size 600 800] [--layers ...]
    python bench/conv.py --transforms [--size 600 800] [--layers ...]

``--channels 8 16 32 64 64`` gives the blocks the demo's widths
(configs/shapes.yaml; with ``--size 192 256``).

For each convolution (at the resolution it runs at for a ``--size`` input):
forward, and forward with both gradients (``gx`` and ``gW``, what a
trainable layer costs), in milliseconds and GFLOP/s, for
:func:`fasterrcnn.functions.convolution.convolution_2d`, for
``chainer.functions.convolution_2d`` and, when torch imports, for
``torch.nn.functional.conv2d`` (its own threads, one per core). Then the 2 x 2
max poolings and the ReLUs the same way, and the totals. The last column is
the largest difference between our output and Chainer's. Medians of
``--repeat`` runs after a warm-up.

``--winograd``: for every 3 x 3 convolution, our forward, input gradient
(``gx``) and weight gradient (``gW``) each timed alone, by the im2col path
(``fasterrcnn_winograd = 'never'``) and by Winograd's (``'always'``), the
path the measured rule picks (``'auto'``), and the fastest of three
measures (``--repeat`` each) beside the median, as the spread.

``--error``: the float32 error of each path against a float64 truth (the
float64 im2col path on the same float32 inputs): the largest absolute
difference over the largest absolute value of the truth, for the forward,
``gx`` and ``gW``, by im2col, Winograd F(2x2, 3x3) (and F(4x4, 3x3) with
``--f4``). The inputs look like the network's: ReLU outputs,
He-initialised kernels. Run it under each ``OPENBLAS_CORETYPE`` and
``OPENBLAS_NUM_THREADS``.

``--transforms``: Winograd's forward by F(2x2, 3x3) and by F(4x4, 3x3),
and F(2x2)'s 16 GEMMs alone (the same shapes, one ``matmul`` on the
BLAS's own threads): what is left of F(2x2)'s time is its transforms.
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
from fasterrcnn.functions.convolution import numpy_impl, winograd
from fasterrcnn.links.backbones.vgg16 import VGG16_CHANNELS, VGG16_DEPTHS

from timing import median_time


def layers(size, channels=VGG16_CHANNELS):
    """``[(name, kind, C_in, C_out, H, W)]`` of the VGG16 extractor for an
    input of ``size``, its blocks ``channels`` wide: convolutions, poolings
    and ReLUs in order."""
    h, w = size
    c_in = 3
    out = []
    for b, depth in enumerate(VGG16_DEPTHS):
        for k in range(depth):
            name = 'conv{}_{}'.format(b + 1, k + 1)
            out.append((name, 'conv', c_in, channels[b], h, w))
            out.append(('relu' + name[4:], 'relu', channels[b],
                        channels[b], h, w))
            c_in = channels[b]
        if b < 4:
            out.append(('pool{}'.format(b + 1), 'pool', c_in, c_in, h, w))
            h, w = h // 2, w // 2
    return out


def resnet_layers(size, rois=128):
    """``[(name, 'conv', C_in, C_out, H, W, N)]``: the 3 x 3 stride-1
    convolutions of ResNet-50 / 101 C4 (links/backbones/resnet.py) for an
    input of ``size``: one per stage (the bottlenecks' middle ones), and
    stage 4's in the head on ``rois`` RoIs of 7 x 7."""
    h, w = size
    out = []
    for stage, (channels, stride) in enumerate([(64, 4), (128, 8),
                                                (256, 16)]):
        out.append(('res{}'.format(stage + 2), 'conv', channels, channels,
                    -(-h // stride), -(-w // stride), 1))
    out.append(('res5 (head)', 'conv', 512, 512, 7, 7, rois))
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


#: The paths ``--winograd`` compares, by ``fasterrcnn_winograd``.
WINOGRAD_PATHS = ('never', 'always')


def _grad_calls(layer, rng):
    """Our forward, ``gx`` and ``gW`` of one convolution row (a batch of
    its 7th value, or 1), each a call of its own FunctionNode (what a
    training step runs)."""
    name, kind, c_in, c_out, h, w = layer[:6]
    n = layer[6] if len(layer) > 6 else 1
    x = rng.uniform(-1, 1, (n, c_in, h, w)).astype(numpy.float32)
    W = rng.normal(0, 0.05, (c_out, c_in, 3, 3)).astype(numpy.float32)
    gy = rng.uniform(-1, 1, (n, c_out, h, w)).astype(numpy.float32)
    return {
        'fwd': lambda: ours.Convolution2D(1, 1).apply((x, W)),
        'gx': lambda: ours.grad_input(chainer.Variable(gy),
                                      chainer.Variable(W), (h, w),
                                      (1, 1), (1, 1)),
        'gW': lambda: ours.Convolution2DGradW(1, 1, 3).apply((x, gy)),
    }


def _timed(fn, repeat):
    """Median and fastest of three medians of ``repeat`` calls."""
    times = [median_time(fn, repeat) for _ in range(3)]
    return sorted(times)[1], min(times)


def measure_winograd(layer, repeat, rng):
    """One row of ``--winograd``: ms of each step by each path."""
    name, kind, c_in, c_out, h, w = layer[:6]
    n = layer[6] if len(layer) > 6 else 1
    calls = _grad_calls(layer, rng)
    row = {'layer': name, 'shape': '{}{}x{}x{}'.format(
        '{} x '.format(n) if n > 1 else '', c_in, h, w),
           'rule': 'winograd' if numpy_impl.use_winograd(
               'auto', n, c_in, c_out, (h, w), (3, 3), (1, 1))
           else 'im2col'}
    with chainer.no_backprop_mode():
        for step, fn in calls.items():
            for mode in WINOGRAD_PATHS:
                with chainer.using_config('fasterrcnn_winograd', mode):
                    row[step, mode] = _timed(fn, repeat)
    return row


def _milli(seconds):
    """Milliseconds, three significant digits below 100 (the demo's
    layers take a few)."""
    ms = seconds * 1e3
    return '{:.0f}'.format(ms) if ms >= 100 else '{:.3g}'.format(ms)


def format_winograd(rows):
    """Markdown: ms (median; fastest) per step and path, the ratio
    Winograd / im2col, the rule's pick; then the totals of medians."""
    steps = ('fwd', 'gx', 'gW')
    head = ['layer', 'input', 'rule']
    for step in steps:
        head += [step + ' im2col', step + ' Winograd', 'ratio']
    lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']

    def cells(row):
        out = []
        for step in steps:
            a, b = row[step, 'never'], row[step, 'always']
            out += ['{} ({})'.format(_milli(a[0]), _milli(a[1])),
                    '{} ({})'.format(_milli(b[0]), _milli(b[1])),
                    '{:.2f}'.format(b[0] / a[0])]
        return out
    for row in rows:
        lines.append('| ' + ' | '.join([row['layer'], row['shape'],
                                        row['rule']] + cells(row)) + ' |')
    total = ['**all**', '', '']
    picked = ['**rule**', '', '']
    for step in steps:
        a = sum(row[step, 'never'][0] for row in rows)
        b = sum(row[step, 'always'][0] for row in rows)
        r = sum(row[step, 'always' if row['rule'] == 'winograd' else
                    'never'][0] for row in rows)
        total += [_milli(a), _milli(b),
                  '{:.2f}'.format(b / a)]
        picked += ['', _milli(r), '{:.2f}'.format(r / a)]
    lines.append('| ' + ' | '.join(total) + ' |')
    lines.append('| ' + ' | '.join(picked) + ' |')
    return '\n'.join(lines)


def measure_transforms(layer, repeat, rng):
    """One row of ``--transforms``: ms of Winograd's forward with F(2x2)
    and F(4x4), and of F(2x2)'s GEMMs alone (the same 16 products, one
    call, on the BLAS's own threads): the rest is the transforms."""
    name, kind, c_in, c_out, h, w = layer[:6]
    x = rng.uniform(-1, 1, (1, c_in, h, w)).astype(numpy.float32)
    W = rng.normal(0, 0.05, (c_out, c_in, 3, 3)).astype(numpy.float32)
    tiles = -(-h // 2) * -(-w // 2)
    U = rng.normal(0, 1, (16, c_out, c_in)).astype(numpy.float32)
    V = rng.normal(0, 1, (16, c_in, tiles)).astype(numpy.float32)
    M = numpy.empty((16, c_out, tiles), dtype=numpy.float32)
    return {'layer': name, 'shape': '{}x{}x{}'.format(c_in, h, w),
            'F2': _timed(lambda: winograd.forward(x, W, None, (1, 1), 2),
                         repeat),
            'F4': _timed(lambda: winograd.forward(x, W, None, (1, 1), 4),
                         repeat),
            'gemm': _timed(lambda: numpy.matmul(U, V, out=M), repeat)}


def format_transforms(rows):
    """Markdown: ms (median; fastest) per path, the GEMMs' share."""
    lines = ['| layer | input | F(2x2) | its GEMMs alone | GEMM share | '
             'F(4x4) |', '|---|---|---|---|---|---|']
    for row in rows:
        lines.append('| {} | {} | {} | {} | {:.2f} | {} |'.format(
            row['layer'], row['shape'],
            *['{} ({})'.format(_milli(row[k][0]), _milli(row[k][1]))
              for k in ('F2', 'gemm')],
            row['gemm'][0] / row['F2'][0],
            '{} ({})'.format(_milli(row['F4'][0]), _milli(row['F4'][1]))))
    return '\n'.join(lines)


def _relative_error(value, truth):
    return float(numpy.abs(value - truth).max() / numpy.abs(truth).max())


def measure_error(layer, rng, tiles=(2,)):
    """One row of ``--error``: each path's float32 error, per step."""
    name, kind, c_in, c_out, h, w = layer
    x = numpy.maximum(rng.normal(0, 1, (1, c_in, h, w)), 0).astype(
        numpy.float32)
    W = rng.normal(0, (2. / (9 * c_in)) ** .5, (c_out, c_in, 3, 3)).astype(
        numpy.float32)
    gy = rng.normal(0, 1, (1, c_out, h, w)).astype(numpy.float32)
    flipped = numpy.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2,
                                                                    3))
    f64 = [a.astype(numpy.float64) for a in (x, W, gy, flipped)]
    truth = {
        'fwd': numpy_impl.forward(f64[0], f64[1], None, (1, 1), (1, 1),
                                  'never'),
        'gx': numpy_impl.forward(f64[2], f64[3], None, (1, 1), (1, 1),
                                 'never'),
        'gW': numpy_impl.grad_weight(f64[0], f64[2], (3, 3), (1, 1),
                                     (1, 1), 'never')}
    paths = {
        'im2col': (lambda a, k: numpy_impl.forward(a, k, None, (1, 1),
                                                   (1, 1), 'never'),
                   lambda a, g: numpy_impl.grad_weight(
                       a, g, (3, 3), (1, 1), (1, 1), 'never')),
    }
    for m in tiles:
        paths['F{}'.format(m)] = (
            lambda a, k, m=m: winograd.forward(a, k, None, (1, 1), m),
            lambda a, g, m=m: winograd.grad_weight(a, g, (1, 1), m))
    row = {'layer': name, 'shape': '{}x{}x{}'.format(c_in, h, w)}
    for path, (conv, grad_w) in paths.items():
        row['fwd', path] = _relative_error(conv(x, W), truth['fwd'])
        row['gx', path] = _relative_error(conv(gy, flipped), truth['gx'])
        row['gW', path] = _relative_error(grad_w(x, gy), truth['gW'])
    return row


def format_error(rows, tiles=(2,)):
    """Markdown: per layer and step, each path's relative error."""
    paths = ['im2col'] + ['F{}'.format(m) for m in tiles]
    head = ['layer', 'input'] + ['{} {}'.format(step, path)
                                 for step in ('fwd', 'gx', 'gW')
                                 for path in paths]
    lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    for row in rows:
        lines.append('| ' + ' | '.join(
            [row['layer'], row['shape']] +
            ['{:.1e}'.format(row[step, path]) for step in ('fwd', 'gx', 'gW')
             for path in paths]) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, nargs=2, default=(600, 800),
                        metavar=('H', 'W'))
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--layers', nargs='*',
                        help='only these (conv1_2, relu1_2, pool1, ...)')
    parser.add_argument('--no-torch', action='store_true')
    parser.add_argument('--winograd', action='store_true',
                        help='time im2col against Winograd, per step')
    parser.add_argument('--transforms', action='store_true',
                        help="Winograd's forward, F(2x2) and F(4x4), "
                        "against F(2x2)'s GEMMs alone")
    parser.add_argument('--error', action='store_true',
                        help='float32 error of each path, float64 truth')
    parser.add_argument('--f4', action='store_true',
                        help='--error: F(4x4, 3x3) too')
    parser.add_argument('--resnet', action='store_true',
                        help="--winograd: ResNet's 3 x 3 layers, not VGG16's")
    parser.add_argument('--channels', type=int, nargs=5,
                        default=VGG16_CHANNELS, metavar='C',
                        help="the five blocks' widths (the demo's: 8 16 32 "
                        "64 64)")
    args = parser.parse_args(argv)
    keep_freed_memory()
    if args.winograd or args.error or args.transforms:
        every = (resnet_layers(args.size) if args.resnet else
                 layers(args.size, args.channels))
        convs = [layer for layer in every
                 if layer[1] == 'conv' and
                 (not args.layers or layer[0] in args.layers)]
        rng = numpy.random.RandomState(0)
        tiles = (2, 4) if args.f4 else (2,)
        rows = []
        for layer in convs:
            if args.transforms:
                rows.append(measure_transforms(layer, args.repeat, rng))
                print(format_transforms(rows[-1:]).splitlines()[2],
                      file=sys.stderr)
            elif args.winograd:
                rows.append(measure_winograd(layer, args.repeat, rng))
                print(format_winograd(rows[-1:]).splitlines()[2],
                      file=sys.stderr)
            else:
                rows.append(measure_error(layer, rng, tiles))
                print(format_error(rows[-1:], tiles).splitlines()[2],
                      file=sys.stderr)
        print(format_transforms(rows) if args.transforms else
              format_winograd(rows) if args.winograd else
              format_error(rows, tiles))
        return 0
    torch = None if args.no_torch else _load_torch()
    rng = numpy.random.RandomState(0)
    rows, chosen = [], []
    for layer in layers(args.size, args.channels):
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
