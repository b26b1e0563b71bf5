"""Images per second of training and of ``predict`` at several batch sizes.

    python bench/scale.py [--gpu N] [--batches 1 2 4] [--size H W]
        [--full] [--repeat 5] [--json FILE]

Trains the demo's narrow VGG16 (``configs/shapes.yaml``; ``--full``: the
full VGG16) on synthetic shapes images of ``--size`` (the demo's 192 x 256
by default, of slightly different sizes so that batches are padded, as real
data is), with ``train.batch_size`` set to each of ``--batches``, and
predicts with the same batch sizes. Every figure is the median of
``--repeat`` updates (or ``predict`` calls) after one warm-up, divided into
the images they process. Figures for several processes (ChainerMN) are not
measured here yet.
"""

import argparse
import json
import os
import sys
import tempfile

import numpy

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
import chainer

from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.data.shapes import generate_shapes

from timing import median_time
from train_step import build, device_sync


def measure(root, batch, device, size, full, repeat):
    """``(training images/s, predict images/s)`` at one batch size."""
    trainer, model = build(root, device=device, size=size, demo=not full,
                           n_images=8,
                           extra=['train.batch_size={}'.format(batch)])
    sync = device_sync(device)
    update = median_time(trainer.updater.update, repeat, sync)
    rng = numpy.random.RandomState(0)
    # Slightly different sizes, as real images: the batch is padded.
    imgs = [rng.uniform(0, 255, (3, size[0] - 8 * (i % 3),
                                 size[1] - 8 * (i % 2))).astype(numpy.float32)
            for i in range(batch)]
    with chainer.using_config('train', False):
        predict = median_time(lambda: model.predict(imgs), repeat, sync)
    return batch / update, batch / predict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--gpu', type=int, default=-1)
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 2, 4])
    parser.add_argument('--size', type=int, nargs=2, default=[192, 256])
    parser.add_argument('--full', action='store_true',
                        help='the full VGG16 rather than the demo\'s')
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args(argv)
    keep_freed_memory()
    if args.gpu >= 0:
        chainer.backends.cuda.get_device_from_id(args.gpu).use()
    rows = []
    with tempfile.TemporaryDirectory() as root:
        generate_shapes(os.path.join(root, 'data'), n_train=8, n_test=1,
                        seed=0, size=tuple(args.size))
        for batch in args.batches:
            train, predict = measure(root, batch, args.gpu, args.size,
                                     args.full, args.repeat)
            rows.append({'batch': batch, 'train_images_per_s': train,
                         'predict_images_per_s': predict})
    device = 'GPU {}'.format(args.gpu) if args.gpu >= 0 else 'CPU'
    print('{} VGG16, {}x{} images, {}, one process'.format(
        'full' if args.full else 'demo (narrow)', args.size[0], args.size[1],
        device))
    print('| batch | training images/s | predict images/s |')
    print('|---|---|---|')
    for row in rows:
        print('| {} | {:.2f} | {:.2f} |'.format(
            row['batch'], row['train_images_per_s'],
            row['predict_images_per_s']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
