"""One switch of the CPU code off and on, in alternating training
iterations of one process: the difference each pair of iterations makes.

    python bench/paired.py
        --switch side-by-side|part-here|pool-arrays|tiles
        [--vgg16] [--pairs 100] [--size H W]

The machine's speed drifts by several percent between runs of the same
code (a whole demo moved by 5 %), more than the few ms a change to the
demo's 85 ms iteration saves. Here iteration ``2 k`` runs with the switch
off and ``2 k + 1`` with it on, in one process on one example (the first
shapes image, as ``bench/train_step.py --demo --image shapes``), so a
drift slower than an iteration cancels in each pair. Prints the median
and mean of each side and of the pairs' differences (on minus off), with
the mean's standard error.

Switches (off: the code before the change it names):

* ``side-by-side``: a small layer's input and weight gradients side by
  side (``convolution.SIDE_BY_SIDE_BYTES``; off: 0, each gradient split
  over the cores);
* ``part-here``: part 0 of the convolution's tiles and NMS's overlap rows
  on the calling thread (``run_parallel(here=True)``; off: every part on
  the pool);
* ``pool-arrays``: max pooling's training backward on the arrays
  (``MaxPooling2D._backward_arrays``; off: the graph's node of the arg-max
  index, as when the gradient is differentiated again);
* ``tiles``: the convolution's im2col tiles of ``numpy_impl.TILE_BYTES``
  (off: 4 MB).

The two sides compute different last bits under ``side-by-side`` and
``tiles`` (the BLAS at one thread for a product of one tile), the same
bits under ``part-here`` and ``pool-arrays``; either way the example and
the weights move the same way for both, one step apart.
"""

import argparse
import statistics
import sys
import tempfile
import time

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
import chainer  # noqa: F401  (after fasterrcnn's shims)

import fasterrcnn.functions.convolution as convolution
from fasterrcnn import cpu_threads, nms
from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.functions.convolution import numpy_impl
from fasterrcnn.functions.pooling import MaxPooling2D

from train_step import bench_example, build, environment, feed_example, machine


def _every_part_on_the_pool(run):
    def call(work, n_parts, blas=None, here=False):
        return run(work, n_parts, blas)
    return call


def _side_by_side(on):
    convolution.SIDE_BY_SIDE_BYTES = _SIDE_BY_SIDE if on else 0


_SIDE_BY_SIDE = convolution.SIDE_BY_SIDE_BYTES
_POOL_ONLY = (_every_part_on_the_pool(cpu_threads.run_parallel),
              _every_part_on_the_pool(cpu_threads.run_slices))


def _part_here(on):
    numpy_impl.run_parallel, nms.run_slices = (
        (cpu_threads.run_parallel, cpu_threads.run_slices) if on
        else _POOL_ONLY)


_POOL_ARRAYS = MaxPooling2D._backward_arrays
_TILE_BYTES = numpy_impl.TILE_BYTES


def _pool_arrays(on):
    MaxPooling2D._backward_arrays = _POOL_ARRAYS if on else \
        MaxPooling2D._backward_graph


def _tiles(on):
    numpy_impl.TILE_BYTES = _TILE_BYTES if on else 4 << 20


#: ``name: set(on)``, each restoring the code as it is when ``on``.
SWITCHES = {'side-by-side': _side_by_side, 'part-here': _part_here,
            'pool-arrays': _pool_arrays, 'tiles': _tiles}


def paired_times(step, switch, pairs):
    """``(off, on)`` seconds of ``pairs`` alternating calls of ``step``
    each, ``switch(False)`` before the off calls and ``switch(True)``
    before the on calls; the switch is left on."""
    times = ([], [])
    try:
        for i in range(2 * pairs):
            on = i % 2
            switch(bool(on))
            start = time.perf_counter()
            step()
            times[on].append(time.perf_counter() - start)
    finally:
        switch(True)
    return times


def summary(off, on):
    """The table's lines for the two sides' seconds (pairs in order)."""
    diff = [b - a for a, b in zip(off, on)]
    error = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 \
        else float('nan')
    return ['| | median | mean |', '|---|---|---|',
            '| off | {:.1f} ms | {:.1f} ms |'.format(
                statistics.median(off) * 1e3, statistics.mean(off) * 1e3),
            '| on | {:.1f} ms | {:.1f} ms |'.format(
                statistics.median(on) * 1e3, statistics.mean(on) * 1e3),
            '| on - off, paired | {:.2f} ms | {:.2f} ms (standard error '
            '{:.2f}) |'.format(statistics.median(diff) * 1e3,
                               statistics.mean(diff) * 1e3, error * 1e3)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--switch', choices=sorted(SWITCHES), required=True)
    parser.add_argument('--vgg16', action='store_true',
                        help="the full VGG16 (a random image), not the "
                        "demo's narrow one")
    parser.add_argument('--pairs', type=int, default=100)
    parser.add_argument('--size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'))
    parser.add_argument('--warm-up', type=int, default=3)
    args = parser.parse_args(argv)
    keep_freed_memory()
    size = tuple(args.size or ((600, 800) if args.vgg16 else (192, 256)))
    with tempfile.TemporaryDirectory() as root:
        trainer, _ = build(root, size=size, demo=not args.vgg16)
        feed_example(trainer, bench_example(
            'random' if args.vgg16 else 'shapes', size, root))
        observation = {}

        def step():
            with trainer.reporter.scope(observation):
                trainer.updater.update()

        for _ in range(args.warm_up):
            step()
        off, on = paired_times(step, SWITCHES[args.switch], args.pairs)
    print('switch {}: {} pairs of training iterations, {} x {}'.format(
        args.switch, args.pairs, *size))
    print('\n'.join(summary(off, on)))
    cpu, env = machine(), environment()
    blas = [lib for lib in env['blas'] or () if lib['numpy']]
    print('CPU: {} ({} cores for this process; {}); numpy {}{}; '
          'OPENBLAS_CORETYPE {}'.format(
              cpu['cpu'], cpu['cores'], ', '.join(cpu['simd']), env['numpy'],
              ''.join(', its BLAS {} {} kernel {} with {} threads'.format(
                  lib['internal_api'], lib['version'], lib['architecture'],
                  lib['num_threads']) for lib in blas[:1]),
              env['OPENBLAS_CORETYPE'] or 'unset'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
