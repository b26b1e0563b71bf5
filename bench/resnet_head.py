"""Speed of the two CPU steps of a ResNet head over many RoIs.

* RoI pooling of a ``1 x 1024 x 38 x 50`` map (ResNet's stage 3 at 600 x
  800) to 14 x 14 bins, 128 and 300 RoIs, some reaching the map's edge
  (so that some bins are empty, as at the edge of a real image);
* a 1 x 1 convolution of 300 (or 128) RoIs of 7 x 7 or 14 x 14 cells, as
  ``numpy_impl.forward`` computes it, beside one matrix product per RoI
  (how it was computed before 2026-12-06).

    python bench/resnet_head.py [--repeat 5]

Medians of ``--repeat`` calls after a warm-up, in ms. The inputs are fixed
(seed 0), so the script run on two commits times the same work.
"""

import argparse

import fasterrcnn  # noqa: F401  isort: skip (first: the BLAS setting)
import numpy

from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.functions.convolution import numpy_impl
from fasterrcnn.functions.roi_pooling import numpy_impl as roi_numpy

from timing import median_time

POOL_CASES = [(1024, 300, 14), (1024, 128, 14), (512, 128, 7)]
ONE_BY_ONE_CASES = [(300, 1024, 512, 14), (300, 512, 2048, 7),
                    (300, 2048, 512, 7), (128, 512, 2048, 7)]


def median_ms(call, repeat):
    return 1e3 * median_time(call, repeat)


def rois_on(height, width, count, rng, stride=16):
    """``(count, 4)`` float32 RoIs in image pixels, 32 to 400 px, clipped
    to the image: those that reach its edge leave some bins empty."""
    y0 = rng.uniform(0, height * stride * 0.8, count)
    x0 = rng.uniform(0, width * stride * 0.8, count)
    y1 = numpy.minimum(y0 + rng.uniform(32, 400, count), height * stride)
    x1 = numpy.minimum(x0 + rng.uniform(32, 400, count), width * stride)
    return numpy.stack([y0, x0, y1, x1], axis=1).astype(numpy.float32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args(argv)
    keep_freed_memory()
    rng = numpy.random.RandomState(0)
    print('| RoI pooling: channels, RoIs, bins | ms |')
    print('|---|---|')
    for channels, count, bins in POOL_CASES:
        x = numpy.maximum(rng.randn(1, channels, 38, 50), 0).astype(
            numpy.float32)
        rois = rois_on(38, 50, count, rng)
        index = numpy.zeros(count, numpy.int32)
        ms = median_ms(lambda: roi_numpy.forward(
            x, rois, index, bins, bins, 1 / 16.), args.repeat)
        print('| {} x 38 x 50, {}, {} x {} | {:.0f} |'.format(
            channels, count, bins, bins, ms))
    print()
    print('| 1 x 1 convolution: RoIs, channels in -> out, cells | one '
          'product per RoI, ms | numpy_impl.forward, ms |')
    print('|---|---|---|')
    for count, c_in, c_out, side in ONE_BY_ONE_CASES:
        x = rng.randn(count, c_in, side, side).astype(numpy.float32)
        W = rng.randn(c_out, c_in, 1, 1).astype(numpy.float32)
        w2 = W.reshape(c_out, c_in)
        x_flat = x.reshape(count, c_in, -1)
        y = numpy.empty((count, c_out, side * side), numpy.float32)

        def per_roi():
            for i in range(count):
                numpy.matmul(w2, x_flat[i], out=y[i])
        print('| {}, {} -> {}, {} x {} | {:.0f} | {:.0f} |'.format(
            count, c_in, c_out, side, side, median_ms(per_roi, args.repeat),
            median_ms(lambda: numpy_impl.forward(x, W, None, (1, 1),
                                                 (0, 0)), args.repeat)))


if __name__ == '__main__':
    main()
