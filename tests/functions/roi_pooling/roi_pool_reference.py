"""A plain-loop RoI max pooling written from the definition, for the tests.

Mirrors ``torchvision.ops.roi_pool`` line by line (float arithmetic in the
input's dtype, C ``round``), with none of the vectorisation of the package.
Also the random RoIs that the tests of every backend draw. RoIs are ``(R,
4)`` ``(y_min, x_min, y_max, x_max)`` in input-image pixels, as in the
package.
"""

import math

import numpy


def c_round(v):
    """Round half away from zero, as C's ``round``."""
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1) \
        if abs(v) - math.floor(abs(v)) != 0.5 else \
        int(math.trunc(v) + math.copysign(1, v))


def random_rois(rng, r, extent, dtype, halves=False):
    """``(r, 4)`` RoIs of ``dtype`` around an ``extent = (H, W)`` image (in
    pixels), partly outside it."""
    h, w = extent
    ys = rng.uniform(-0.2 * h, 1.2 * h, (r, 2))
    xs = rng.uniform(-0.2 * w, 1.2 * w, (r, 2))
    rois = numpy.stack([ys.min(1), xs.min(1), ys.max(1), xs.max(1)], axis=1)
    if halves:
        # corners on k + 0.5 cells, where half-to-even rounding would differ
        rois = numpy.round(rois / 8) * 8
    return rois.astype(dtype)


def roi_pool_reference(x, rois, roi_indices, outh, outw, spatial_scale):
    """Returns ``(y, argmax)``, ``(R, C, outh, outw)`` each.

    ``x`` is ``(N, C, H, W)`` float, ``rois`` ``(R, 4)`` of its dtype,
    ``roi_indices`` ``(R,)`` int; ``y`` has ``x``'s dtype, ``argmax`` is
    int32 ``h * W + w`` (-1 for none).
    """
    dtype = x.dtype.type
    n, c, height, width = x.shape
    r = len(rois)
    y = numpy.zeros((r, c, outh, outw), dtype=x.dtype)
    argmax = numpy.full((r, c, outh, outw), -1, dtype=numpy.int32)
    lowest = numpy.finfo(x.dtype).min
    for k in range(r):
        scaled = [dtype(rois[k, j]) * dtype(spatial_scale) for j in range(4)]
        sh, sw, eh, ew = (c_round(float(v)) for v in scaled)
        bin_h = dtype(max(eh - sh + 1, 1)) / dtype(outh)
        bin_w = dtype(max(ew - sw + 1, 1)) / dtype(outw)
        for ph in range(outh):
            hs = int(math.floor(dtype(ph) * bin_h))
            he = int(math.ceil(dtype(ph + 1) * bin_h))
            hs = min(max(hs + sh, 0), height)
            he = min(max(he + sh, 0), height)
            for pw in range(outw):
                ws = int(math.floor(dtype(pw) * bin_w))
                we = int(math.ceil(dtype(pw + 1) * bin_w))
                ws = min(max(ws + sw, 0), width)
                we = min(max(we + sw, 0), width)
                empty = he <= hs or we <= ws
                for ch in range(c):
                    best = dtype(0) if empty else lowest
                    best_index = -1
                    for h in range(hs, he):
                        for w in range(ws, we):
                            v = x[roi_indices[k], ch, h, w]
                            if v > best:
                                best = v
                                best_index = h * width + w
                    y[k, ch, ph, pw] = best
                    argmax[k, ch, ph, pw] = best_index
    return y, argmax


def roi_pool_backward_reference(gy, argmax, roi_indices, x_shape):
    """Scatter each bin's gradient to its arg-max cell (float64 sums).

    ``gy`` and ``argmax`` are ``(R, C, outh, outw)`` (``argmax`` as
    :func:`roi_pool_reference` returns it); the result is ``x_shape`` ``(N,
    C, H, W)`` of ``gy``'s dtype.
    """
    gx = numpy.zeros(x_shape, dtype=numpy.float64)
    n, c, height, width = x_shape
    r, _, outh, outw = gy.shape
    for k in range(r):
        for ch in range(c):
            for ph in range(outh):
                for pw in range(outw):
                    a = argmax[k, ch, ph, pw]
                    if a >= 0:
                        gx[roi_indices[k], ch, a // width, a % width] += \
                            gy[k, ch, ph, pw]
    return gx.astype(gy.dtype)
