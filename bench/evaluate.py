"""The evaluation's predictions with small images side by side and without
(``chainer.config.fasterrcnn_side_by_side``), in alternating passes of one
process.

    python bench/evaluate.py [--model MODEL.npz] [--data DIR] [--vgg16]
        [--size H W] [--n-images 60] [--passes 5] [--only on|off]
        [--small-pixels N]

Each pass predicts the same ``--n-images`` images: the first of the test
split of ``--data`` (a data set in the VOC layout, e.g. the demo's
``demo_out/data``), else random pixels of ``--size`` (192 x 256 by
default: the demo's); through
:func:`fasterrcnn.evaluation.evaluate.predict_examples`, the path of
``fasterrcnn-eval`` and of the Trainer's evaluations, with the 'evaluate'
preset. The model is a model file (``--model``, e.g. the demo's
``demo_out/train/model.npz``), else the demo's narrow VGG16 (``--vgg16``:
the full one) with its initial weights. Passes alternate off and on
(``bench/paired.py``'s method), and the table has each side's time an
image and the pairs' difference. ``--only`` runs one side alone and
prints the process's peak memory with it (a second image's activations
are the price of a pair). ``--small-pixels`` replaces the bound below which
an image counts as small (``side_by_side.SMALL_PIXELS``), to measure
larger images side by side.
"""

import argparse
import sys
import tempfile

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
import chainer
import numpy

from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.evaluation import side_by_side as side_by_side_module
from fasterrcnn.evaluation.evaluate import predict_examples

from paired import paired_times, summary
from timing import run_times
from train_step import build, environment, machine, peak_memory


def side_by_side(on):
    """The switch (this thread's own Chainer setting)."""
    chainer.config.fasterrcnn_side_by_side = bool(on)


def images(n, size, seed=0):
    """``n`` examples of random ``(3, H, W)`` pixels and no object."""
    rng = numpy.random.RandomState(seed)
    return [(rng.uniform(0, 255, (3,) + tuple(size)).astype(numpy.float32),
             numpy.zeros((0, 4), numpy.float32), numpy.zeros(0, numpy.int32))
            for _ in range(n)]


def test_images(data_dir, n):
    """The first ``n`` examples of the test split of ``data_dir``."""
    from fasterrcnn.data.voc import VOCBboxDataset
    dataset = VOCBboxDataset(data_dir, split='test')
    return [dataset[i] for i in range(min(n, len(dataset)))]


def load_or_build(path, root, size, vgg16):
    if path:
        from fasterrcnn.weights.model_io import load_model
        return load_model(path)[0]
    return build(root, size=size, demo=not vgg16)[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default=None)
    parser.add_argument('--data', default=None)
    parser.add_argument('--vgg16', action='store_true')
    parser.add_argument('--size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'))
    parser.add_argument('--n-images', type=int, default=60)
    parser.add_argument('--passes', type=int, default=5)
    parser.add_argument('--only', choices=('on', 'off'), default=None)
    parser.add_argument('--small-pixels', type=int, default=None)
    args = parser.parse_args(argv)
    if args.small_pixels is not None:
        side_by_side_module.SMALL_PIXELS = args.small_pixels
    keep_freed_memory()
    size = tuple(args.size or ((600, 800) if args.vgg16 else (192, 256)))
    data = test_images(args.data, args.n_images) if args.data else \
        images(args.n_images, size)
    with tempfile.TemporaryDirectory() as root:
        model = load_or_build(args.model, root, size, args.vgg16)
    model.use_preset('evaluate')

    def step():
        predict_examples(model, data)

    what = '{} images {}, {}'.format(
        len(data), 'of ' + args.data if args.data else
        'of {} x {}'.format(*size), args.model or
        ('VGG16' if args.vgg16 else "the demo's model") +
        ', initial weights')
    if args.only:
        side_by_side(args.only == 'on')
        runs = run_times(step, args.passes)   # after a warm-up pass
        print('side by side {}: {} passes of {}'.format(
            args.only, args.passes, what))
        print('median {:.1f} ms an image; max resident {} MiB'.format(
            runs.spread()['median'] / len(data) * 1e3,
            peak_memory(-1)[1] >> 20))
    else:
        step()
        off, on = paired_times(step, side_by_side, args.passes)
        print('side by side: {} pairs of passes of {}; the time an '
              'image'.format(args.passes, what))
        n = len(data)
        print('\n'.join(summary([t / n for t in off], [t / n for t in on])))
    cpu, env = machine(), environment()
    print('CPU: {} ({} cores for this process); numpy {}; '
          'OPENBLAS_CORETYPE {}'.format(cpu['cpu'], cpu['cores'],
                                        env['numpy'],
                                        env['OPENBLAS_CORETYPE'] or 'unset'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
