"""A plain-loop RoIAlign written from the definition, for the tests.

One RoI, one bin, one sample at a time, with none of the package's
matrices: the sample positions and bilinear weights in the input's dtype
(as torchvision computes them, so that a sample falls on the same side of
every cell edge), the sums in float64. Also the random RoIs the tests draw
and the tolerance they compare with. RoIs are ``(R, 4)`` ``(y_min, x_min,
y_max, x_max)`` in input-image pixels, as in the package.
"""

import math

import numpy


def random_rois(rng, r, extent, dtype, outside=0.2):
    """``(r, 4)`` RoIs of ``dtype`` around an ``extent = (H, W)`` image (in
    pixels), reaching ``outside`` of its size beyond each edge."""
    h, w = extent
    ys = rng.uniform(-outside * h, (1 + outside) * h, (r, 2))
    xs = rng.uniform(-outside * w, (1 + outside) * w, (r, 2))
    rois = numpy.stack([ys.min(1), xs.min(1), ys.max(1), xs.max(1)], axis=1)
    return rois.astype(dtype)


def grid_of(bin_size, sampling):
    """Samples per bin: ``sampling``, or ``ceil(bin_size)`` for 0; none
    for a ceiling that is not a finite number in ``[1, 2^31)``."""
    if sampling:
        return sampling
    if not math.isfinite(bin_size):
        return 0
    g = math.ceil(bin_size)
    return g if 1 <= g < 2 ** 31 else 0


def taps(pos, limit):
    """``[(cell, weight)]`` that a sample at ``pos`` (a NumPy scalar) reads
    on an axis of ``limit`` cells: none below -1, beyond ``limit`` or NaN;
    cell 0 from -1 to 0; the last cell alone (weight 1) from the last cell
    on; else the two cells around it by their distance."""
    t = type(pos)
    if not (-1 <= pos <= limit):
        return []
    if pos <= 0:
        pos = t(0)
    low = int(pos)
    if low >= limit - 1:
        return [(limit - 1, t(1))]
    frac = pos - t(low)
    return [(low, t(1) - frac), (low + 1, frac)]


def bin_samples(roi, outh, outw, spatial_scale, sampling, aligned, height,
                width, dtype):
    """For each bin ``(ph, pw)``: ``[(h, w, weight)]`` over its samples and
    their four (or fewer) cells, weights ``wy * wx`` in ``dtype``; and the
    divisor ``max(grid_h * grid_w, 1)``."""
    t = numpy.dtype(dtype).type
    offset = t(0.5) if aligned else t(0)
    start_h, start_w, end_h, end_w = (
        t(v) * t(spatial_scale) - offset for v in roi)
    size_h, size_w = end_h - start_h, end_w - start_w
    if not aligned:
        size_h = size_h if not size_h < 1 else t(1)
        size_w = size_w if not size_w < 1 else t(1)
    bin_h, bin_w = size_h / t(outh), size_w / t(outw)
    grid_h = grid_of(float(bin_h), sampling[0])
    grid_w = grid_of(float(bin_w), sampling[1])
    out = {}
    for ph in range(outh):
        for pw in range(outw):
            cells = []
            for iy in range(grid_h):
                y = start_h + t(ph) * bin_h + t(iy + 0.5) * bin_h / t(grid_h)
                for ix in range(grid_w):
                    x = start_w + t(pw) * bin_w + \
                        t(ix + 0.5) * bin_w / t(grid_w)
                    for h, wy in taps(y, height):
                        for w, wx in taps(x, width):
                            cells.append((h, w, wy * wx))
            out[ph, pw] = cells
    return out, max(grid_h * grid_w, 1)


def roi_align_reference(x, rois, roi_indices, outsize, spatial_scale,
                        sampling, aligned):
    """``(R, C, outh, outw)`` of ``x``'s dtype (sums in float64).

    ``x`` ``(N, C, H, W)`` float, ``rois`` ``(R, 4)`` of its dtype,
    ``roi_indices`` ``(R,)`` int, ``sampling`` ``(sh, sw)`` with 0 for
    adaptive.
    """
    n, c, height, width = x.shape
    outh, outw = outsize
    y = numpy.zeros((len(rois), c, outh, outw))
    with numpy.errstate(all='ignore'):
        for r, roi in enumerate(rois):
            bins, count = bin_samples(roi, outh, outw, spatial_scale,
                                      sampling, aligned, height, width,
                                      x.dtype)
            plane = x[roi_indices[r]].astype(numpy.float64)
            for (ph, pw), cells in bins.items():
                for h, w, weight in cells:
                    y[r, :, ph, pw] += float(weight) * plane[:, h, w]
                y[r, :, ph, pw] /= count
    return y.astype(x.dtype)


def roi_align_backward_reference(gy, rois, roi_indices, x_shape,
                                 spatial_scale, sampling, aligned):
    """``(N, C, H, W)`` of ``gy``'s dtype: each sample's share ``gy *
    weight / count`` added to its cells (sums in float64)."""
    n, c, height, width = x_shape
    outh, outw = gy.shape[2:]
    gx = numpy.zeros(x_shape)
    with numpy.errstate(all='ignore'):
        for r, roi in enumerate(rois):
            bins, count = bin_samples(roi, outh, outw, spatial_scale,
                                      sampling, aligned, height, width,
                                      gy.dtype)
            for (ph, pw), cells in bins.items():
                g = gy[r, :, ph, pw].astype(numpy.float64) / count
                for h, w, weight in cells:
                    gx[roi_indices[r], :, h, w] += g * float(weight)
    return gx.astype(gy.dtype)


def assert_close_to_rounding(actual, expected, magnitude, units):
    """``|actual - expected| <= units * eps * magnitude``, elementwise.

    ``magnitude`` is the sum of the absolute values of the terms each value
    adds up (the same linear op applied to ``|x|``, or to ``|gy|``): the
    scale of any rounding in that sum, whatever its order. ``eps`` is the
    dtype's. Where the magnitude is 0 the values must be equal.
    """
    eps = numpy.finfo(expected.dtype).eps
    error = numpy.abs(actual.astype(numpy.float64) -
                      expected.astype(numpy.float64))
    bound = units * eps * magnitude.astype(numpy.float64)
    worst = error - bound
    assert (worst <= 0).all(), (
        'off by up to {:.3g} units of eps * magnitude (allowed {})'.format(
            rounding_units(actual, expected, magnitude), units))


def rounding_units(actual, expected, magnitude):
    """The largest ``|actual - expected| / (eps * magnitude)`` (0 where both
    are 0): what :func:`assert_close_to_rounding` needs as ``units``."""
    eps = numpy.finfo(expected.dtype).eps
    error = numpy.abs(actual.astype(numpy.float64) -
                      expected.astype(numpy.float64))
    scale = eps * magnitude.astype(numpy.float64)
    with numpy.errstate(divide='ignore', invalid='ignore'):
        units = numpy.where(error > 0, error / scale, 0.0)
    return float(units.max()) if units.size else 0.0
