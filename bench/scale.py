"""Images per second at several batch sizes and numbers of processes.

    python bench/scale.py [--gpu N] [--batches 1 2 4] [--processes 1 2]
        [--size H W] [--full] [--repeat 5] [--json FILE]

Trains the demo's narrow VGG16 (``configs/shapes.yaml``; ``--full``: the
full VGG16) on synthetic shapes images of ``--size`` (the demo's 192 x 256
by default):

* one process, with ``train.batch_size`` set to each of ``--batches``, and
  ``predict`` on the same numbers of images (of slightly different sizes,
  so that the batch is padded, as real data is);
* ``mpiexec -n P`` processes for each of ``--processes`` (ChainerMN's
  ``naive`` communicator on the CPU), at the global batch of the largest P
  (each process takes its share).

Every figure is the median of ``--repeat`` updates (or ``predict`` calls)
after one warm-up, divided into the images they process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)

from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.cli.common import UserError, select_gpu
from fasterrcnn.data.shapes import generate_shapes

from timing import median_time
from train_step import build, device_sync


def measure(root, batch, device, size, full, repeat, comm=None):
    """Training images/s at global batch ``batch`` (all processes)."""
    trainer, model = build(root, device=device, size=size, demo=not full,
                           n_images=8, comm=comm,
                           extra=['train.batch_size={}'.format(batch)])
    sync = device_sync(device)
    update = median_time(trainer.updater.update, repeat, sync)
    return batch / update, model


def predict_rate(model, batch, size, repeat, device):
    rng = numpy.random.RandomState(0)
    imgs = [rng.uniform(0, 255, (3, size[0] - 8 * (i % 3),
                                 size[1] - 8 * (i % 2))).astype(numpy.float32)
            for i in range(batch)]
    # predict runs in test mode by itself.
    seconds = median_time(lambda: model.predict(imgs), repeat,
                          device_sync(device))
    return batch / seconds


def worker(args):
    """One process of ``mpiexec``: rank 0 prints the figure as JSON."""
    from fasterrcnn.training.distributed import create_communicator
    comm = create_communicator('naive')
    rate, _ = measure(args.root, args.worker_batch, args.gpu, args.size,
                      args.full, args.repeat, comm=comm)
    if comm.rank == 0:
        print(json.dumps({'processes': comm.size,
                          'train_images_per_s': rate}))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--gpu', type=int, default=-1)
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 2, 4])
    parser.add_argument('--processes', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--size', type=int, nargs=2, default=[192, 256])
    parser.add_argument('--full', action='store_true',
                        help='the full VGG16 rather than the demo\'s')
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--json', help='also write the figures here')
    parser.add_argument('--root', help=argparse.SUPPRESS)
    parser.add_argument('--worker-batch', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    keep_freed_memory()
    if args.worker_batch:
        return worker(args)
    if args.gpu >= 0:
        # CuPy missing or no device: one line saying what to install.
        try:
            select_gpu(args.gpu)
        except UserError as e:
            parser.exit(2, '{}: error: {}\n'.format(parser.prog, e))
    batches, processes = [], []
    with tempfile.TemporaryDirectory() as root:
        generate_shapes(os.path.join(root, 'data'), n_train=8, n_test=1,
                        seed=0, size=tuple(args.size))
        for batch in args.batches:
            train, model = measure(root, batch, args.gpu, args.size,
                                   args.full, args.repeat)
            batches.append({'batch': batch, 'train_images_per_s': train,
                            'predict_images_per_s': predict_rate(
                                model, batch, args.size, args.repeat,
                                args.gpu)})
        global_batch = max(args.processes)
        mpiexec = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
        for n in args.processes:
            command = [mpiexec, '-n', str(n), sys.executable,
                       os.path.abspath(__file__), '--root', root,
                       '--worker-batch', str(global_batch), '--repeat',
                       str(args.repeat), '--size'] + \
                [str(v) for v in args.size] + (['--full'] if args.full
                                               else [])
            done = subprocess.run(command, capture_output=True, text=True,
                                  cwd=os.path.dirname(__file__))
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row['global_batch'] = global_batch
            processes.append(row)
    device = 'GPU {}'.format(args.gpu) if args.gpu >= 0 else 'CPU'
    print('{} VGG16, {}x{} images, {}'.format(
        'full' if args.full else 'demo (narrow)', args.size[0], args.size[1],
        device))
    print('| one process, batch | training images/s | predict images/s |')
    print('|---|---|---|')
    for row in batches:
        print('| {} | {:.2f} | {:.2f} |'.format(
            row['batch'], row['train_images_per_s'],
            row['predict_images_per_s']))
    print('| processes (global batch {}) | training images/s |'.format(
        max(args.processes)))
    print('|---|---|')
    for row in processes:
        print('| {} | {:.2f} |'.format(row['processes'],
                                       row['train_images_per_s']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'batches': batches, 'processes': processes}, f,
                      indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
