"""NumPy backend of RoIAlign: per-axis interpolation matrices and GEMMs.

This module owns the CPU arithmetic: where each RoI samples
(:func:`geometry`), the forward and the backward. The Chainer FunctionNodes
in the package ``__init__`` call :func:`forward` and :func:`backward` for
NumPy inputs; the CUDA kernels in ``cuda_impl`` compute the same values to
float rounding (they sum in another order, see below).

Why matrices: a RoIAlign bin is the mean of ``grid_h x grid_w`` bilinear
samples, and both the sample grid and the bilinear weights factor into a
vertical and a horizontal part: the sample at ``(y, x)`` weighs cell
``(h, w)`` by ``a(y, h) * b(x, w)``, and it counts only where both ``y``
and ``x`` are inside the map. So for one RoI of image ``n`` and one
channel,

    y[ph, pw] = sum_{h, w} Ay[ph, h] * x[n, h, w] * Ax[pw, w] / count,

where ``Ay[ph, h]`` sums ``a(y, h)`` over the bin's sample rows (and ``Ax``
likewise over its columns): two small GEMMs per RoI over the window of
cells its samples touch, with every channel in one call, instead of four
gathered channel vectors per sample (for 128 RoIs of 14 x 14 bins, 2 x 2
samples and 1024 channels: 400,000 gathers, 411 million multiply-adds,
where the GEMMs do 0.85 billion at the BLAS's speed: about 35 ms, see
docs/roi_align.md). The backward is the transpose: ``gx[n] += Ay^T (gy /
count) Ax`` for each RoI.

The sample positions and their weights are computed exactly as
``torchvision.ops.roi_align`` computes them (same operations, same order,
in the input's dtype), so a sample never lands on the other side of a cell
edge or of the map's border than in torchvision; only the sums are in
another order. They also hold the zero weights of the window's other
cells, so a NaN or infinite *feature* inside a RoI's window reaches every
bin of that RoI's channel (``0 * inf``), where torchvision confines it to
the bins that sample it: non-finite either way (features are finite in a
sane network, and the training guard catches a non-finite loss).

Threads (:mod:`fasterrcnn.cpu_threads`): the forward splits the
RoIs (each writes its own output); the backward splits the channels into
fixed blocks of :data:`CHANNEL_BLOCK` (each block adds its RoIs into its
own slice of ``gx`` in RoI order). Neither split depends on the thread
count, and every GEMM runs with the BLAS at one thread, in parts or not:
OpenBLAS's own threads split a GEMM in a way that changes its rounding
(measured with its Haswell and Zen kernels: 22 of 27,300 outputs of a
(7, 12) @ (12, 3900) product differ between 1 and 2 BLAS threads), so
neither the thread count nor the size of the work changes a result.
"""

import numpy

from fasterrcnn.cpu_threads import blas_threads, cpu_threads, run_parallel

#: Channels per part of the backward. Fixed (not derived from the thread
#: count), so that the GEMM shapes, and with them every rounding, are the
#: same on any machine.
CHANNEL_BLOCK = 256

#: Below this many multiply-adds the work stays on the calling thread:
#: handing it to the pool costs more than it saves.
PARALLEL_MIN_WORK = 1 << 22


class Geometry(object):
    """Where the samples of every RoI lie, as interpolation matrices.

    Attributes:
        weight_h (numpy.ndarray): ``(R, outh, H)`` of the input's dtype:
            row ``(r, ph)`` holds, for each map row ``h``, the sum over the
            bin's sample rows of the vertical bilinear weight of ``h``
            (zero for samples outside the map).
        weight_w (numpy.ndarray): ``(R, outw, W)``, the same horizontally.
        window (numpy.ndarray): ``(R, 4)`` int64 ``(h0, h1, w0, w1)``: the
            cells ``[h0, h1) x [w0, w1)`` that any sample of the RoI
            touches; outside it both matrices are zero.
        nonempty (numpy.ndarray): ``(R,)`` bool, whether the RoI has a
            sample inside the map on both axes (else its output is 0).
        count (numpy.ndarray): ``(R,)`` the input's dtype, the divisor of
            the mean, ``max(grid_h * grid_w, 1)`` as torchvision takes it.
    """

    __slots__ = ('weight_h', 'weight_w', 'window', 'nonempty', 'count')

    def __init__(self, weight_h, weight_w, window, nonempty, count):
        self.weight_h = weight_h
        self.weight_w = weight_w
        self.window = window
        self.nonempty = nonempty
        self.count = count


def sample_grid(bin_size, sampling):
    """Samples per bin along one axis.

    Args:
        bin_size (numpy.ndarray): ``(R,)`` float bin extents in cells.
        sampling (int): the fixed ratio, or 0 for adaptive.

    Returns:
        numpy.ndarray: ``(R,)`` int64. Adaptive is ``ceil(bin_size)``, as
        torchvision's ``sampling_ratio <= 0`` (Detectron's choice: about one
        sample per cell). A grid that is not a finite number in ``[1,
        2^31)`` (a non-finite, empty, inverted or absurdly large RoI) has
        no sample, so its bins give 0: what torchvision's ``(int)`` cast of
        such a ceiling amounts to on x86 (INT_MIN, an empty loop); here it
        is defined rather than undefined behaviour.
    """
    if sampling:
        return numpy.full(bin_size.shape, sampling, dtype=numpy.int64)
    ceiling = numpy.ceil(bin_size).astype(numpy.float64)
    usable = (ceiling >= 1) & (ceiling < 2.0 ** 31)  # False for NaN
    return numpy.where(usable, ceiling, 0).astype(numpy.int64)


def _axis_weights(start, bin_size, grid, n_bins, limit):
    """The interpolation matrix of one axis and the window it touches.

    Sample ``k`` of bin ``p`` lies at ``start + p * bin_size + (k + 0.5) *
    bin_size / grid`` (torchvision's expression, in this dtype and order).
    As in torchvision: a sample below -1 or beyond ``limit`` (or NaN) is
    empty; one in ``[-1, 0]`` is read at 0; one at or past the last cell
    reads the last cell alone; else it weighs cells ``floor(pos)`` and
    ``floor(pos) + 1`` by ``1 - frac`` and ``frac``.

    Args:
        start (numpy.ndarray): ``(R,)`` float, the RoI's first edge in cells.
        bin_size (numpy.ndarray): ``(R,)`` the same dtype, bin extent.
        grid (numpy.ndarray): ``(R,)`` int64 samples per bin (0: none).
        n_bins (int): bins along this axis.
        limit (int): cells of the map along this axis (H or W).

    Returns:
        tuple: ``(weights, lo, hi)``: ``weights`` ``(R, n_bins, limit)``
        of ``start``'s dtype; ``lo`` and ``hi`` ``(R,)`` int64, the cells
        ``[lo, hi)`` touched by a sample inside the map (``lo >= hi``:
        none).
    """
    dtype = start.dtype
    t = dtype.type
    r = len(start)
    weights = numpy.zeros((r, n_bins, limit), dtype=dtype)
    lo = numpy.full(r, limit, dtype=numpy.int64)
    hi = numpy.zeros(r, dtype=numpy.int64)
    if r == 0 or limit == 0:
        return weights, lo, hi
    # (R, n_bins): start + p * bin_size, the first term of the position.
    base = start[:, None] + \
        numpy.arange(n_bins).astype(dtype)[None, :] * bin_size[:, None]
    divisor = numpy.maximum(grid, 1).astype(dtype)
    roi = numpy.arange(r)[:, None]
    bins = numpy.arange(n_bins)[None, :]
    # One pass per sample index: vectorised over every RoI and bin (a
    # fixed ratio of 2 is two passes; adaptive grids are ceil(bin size)).
    for k in range(int(grid.max())):
        pos = base + ((t(k + 0.5) * bin_size) / divisor)[:, None]
        valid = (pos >= -1) & (pos <= limit) & (k < grid)[:, None]
        # Read at 0 from -1 up to 0; NaN and empty samples become 0 too
        # (their weights are zeroed below).
        pos = numpy.where(valid & (pos > 0), pos, t(0))
        low = pos.astype(numpy.int64)  # truncation: pos >= 0 here
        top = low >= limit - 1
        low[top] = limit - 1
        pos = numpy.where(top, t(limit - 1), pos)
        high = numpy.where(top, low, low + 1)
        w_high = pos - low.astype(dtype)
        w_low = t(1) - w_high
        w_high[~valid] = 0
        w_low[~valid] = 0
        numpy.add.at(weights, (roi, bins, low), w_low)
        numpy.add.at(weights, (roi, bins, high), w_high)
        lo = numpy.minimum(lo, numpy.where(valid, low, limit).min(axis=1))
        hi = numpy.maximum(hi, numpy.where(valid, high + 1, 0).max(axis=1))
    return weights, lo, hi


def geometry(rois, outh, outw, spatial_scale, sampling, aligned, height,
             width):
    """Where every RoI samples, with torchvision's ``roi_align`` semantics.

    Args:
        rois (numpy.ndarray): ``(R, 4)`` float ``(y_min, x_min, y_max,
            x_max)`` in input-image pixels; the arithmetic is done in this
            dtype, as torchvision does it in the input's.
        outh (int): bins per RoI vertically.
        outw (int): bins per RoI horizontally.
        spatial_scale (float): feature-map cells per image pixel.
        sampling (tuple): ``(sampling_h, sampling_w)`` ints, 0 for
            adaptive (see :func:`sample_grid`).
        aligned (bool): shift the RoI by -0.5 cell (pixel centres; see the
            package docstring); without it a RoI is at least one cell on
            each axis.
        height (int): H of the feature map.
        width (int): W of the feature map.

    Returns:
        Geometry: the matrices, windows and divisors.
    """
    dtype = rois.dtype
    t = dtype.type
    # Non-finite or huge RoIs give inf and NaN on the way: they are
    # defined below (empty samples, empty grids), not errors.
    with numpy.errstate(over='ignore', invalid='ignore', divide='ignore'):
        edges = rois * t(spatial_scale) - t(0.5 if aligned else 0)
        start_h, start_w, end_h, end_w = (edges[:, k] for k in range(4))
        size_h = end_h - start_h
        size_w = end_w - start_w
        if not aligned:
            # torchvision forces malformed RoIs to one cell (NaN stays NaN)
            size_h = numpy.maximum(size_h, t(1))
            size_w = numpy.maximum(size_w, t(1))
        bin_h = size_h / t(outh)
        bin_w = size_w / t(outw)
        grid_h = sample_grid(bin_h, sampling[0])
        grid_w = sample_grid(bin_w, sampling[1])
        weight_h, h0, h1 = _axis_weights(start_h, bin_h, grid_h, outh,
                                         height)
        weight_w, w0, w1 = _axis_weights(start_w, bin_w, grid_w, outw, width)
    count = numpy.maximum(grid_h * grid_w, 1).astype(dtype)
    window = numpy.stack([h0, h1, w0, w1], axis=1)
    return Geometry(weight_h, weight_w, window, (h1 > h0) & (w1 > w0),
                    count)


def _parts(work, n_parts):
    """Split ``[0, len(work))`` into at most ``n_parts`` contiguous ranges
    of about equal ``work`` (a float per item); ``[(start, stop)]``."""
    total = float(work.sum())
    if len(work) == 0 or total <= 0:
        return [(0, len(work))]
    edges = numpy.searchsorted(numpy.cumsum(work),
                               total * numpy.arange(1, n_parts) / n_parts)
    bounds = [0] + [int(e) for e in edges] + [len(work)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def forward(x, rois, roi_indices, outh, outw, spatial_scale, sampling,
            aligned):
    """RoIAlign on the CPU.

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` float feature maps.
        rois (numpy.ndarray): ``(R, 4)`` RoIs, dtype of ``x``, ``(y_min,
            x_min, y_max, x_max)`` in input-image pixels.
        roi_indices (numpy.ndarray): ``(R,)`` int32, the image of each RoI
            in ``[0, N)`` (checked by the caller).
        outh (int): bins per RoI vertically.
        outw (int): bins per RoI horizontally.
        spatial_scale (float): feature-map cells per image pixel.
        sampling (tuple): ``(sampling_h, sampling_w)``, 0 for adaptive.
        aligned (bool): torchvision's ``aligned`` (half-pixel shift).

    Returns:
        tuple: ``y`` ``(R, C, outh, outw)`` dtype of ``x``, and the
        :class:`Geometry` that :func:`backward` needs.
    """
    n, c, height, width = x.shape
    geo = geometry(rois, outh, outw, spatial_scale, sampling, aligned,
                   height, width)
    todo = numpy.flatnonzero(geo.nonempty)
    if len(todo) < len(rois) or c == 0:
        y = numpy.zeros((len(rois), c, outh, outw), dtype=x.dtype)
        if len(todo) == 0 or c == 0:
            return y, geo
    else:
        # Every value is written below. (Measured: the GEMMs' writes into
        # the fresh zero pages of numpy.zeros took 94 ms for 128 RoIs of 14
        # x 14 bins and 1024 channels, into numpy.empty 64 ms.)
        y = numpy.empty((len(rois), c, outh, outw), dtype=x.dtype)
    # Channels last, so that a window's rows are one (rows, cols * C)
    # matrix (a strided view, no copy) and a GEMM carries every channel.
    x_t = numpy.ascontiguousarray(x.transpose(0, 2, 3, 1))
    h0, h1, w0, w1 = geo.window[todo].T
    # Multiply-adds of each RoI's two GEMMs.
    work = (c * outh * (w1 - w0) * (h1 - h0 + outw)).astype(numpy.float64)

    def run(a, b):
        for k in todo[a:b]:
            top, bottom, left, right = (int(v) for v in geo.window[k])
            cells = x_t[roi_indices[k], top:bottom, left:right].reshape(
                bottom - top, -1)
            # (outh, rows) @ (rows, cols * C): the vertical interpolation.
            rows = numpy.matmul(geo.weight_h[k, :, top:bottom], cells)
            # For each ph, (C, cols) @ (cols, outw): the horizontal one,
            # written by the BLAS straight into y[k][:, ph, :] (rows of
            # outh * outw apart), so no transposing copy of the output.
            numpy.matmul(
                rows.reshape(outh, right - left, c).transpose(0, 2, 1),
                geo.weight_w[k, :, left:right].T,
                out=y[k].transpose(1, 0, 2))
            # The mean over the samples, as torchvision: the sum / count.
            y[k] /= geo.count[k]

    n_parts = cpu_threads() if work.sum() >= PARALLEL_MIN_WORK else 1
    parts = _parts(work, n_parts)
    with blas_threads(1):
        run_parallel(lambda part: run(*parts[part]), len(parts))
    return y, geo


def backward(gy, geo, roi_indices, x_shape):
    """Gradient of :func:`forward` with respect to ``x``: each RoI's
    ``Ay^T (gy / count) Ax`` added into its image's window.

    Args:
        gy (numpy.ndarray): ``(R, C, outh, outw)`` output gradient, dtype of
            ``x``.
        geo (Geometry): the forward's.
        roi_indices (numpy.ndarray): ``(R,)`` int32 image of each RoI.
        x_shape (tuple): ``(N, C, H, W)``.

    Returns:
        numpy.ndarray: ``(N, C, H, W)`` gradient, dtype of ``gy``. The RoIs
        of one image are added in their order, in that dtype.
    """
    n, c, height, width = x_shape
    outh, outw = gy.shape[2:]
    todo = numpy.flatnonzero(geo.nonempty)
    if len(todo) == 0 or c == 0:
        return numpy.zeros(x_shape, dtype=gy.dtype)
    # Channels last, so that each RoI's window is added as rows of
    # contiguous channel vectors; transposed back once at the end.
    gx = numpy.zeros((n, height, width, c), dtype=gy.dtype)
    blocks = [(c0, min(c0 + CHANNEL_BLOCK, c))
              for c0 in range(0, c, CHANNEL_BLOCK)]
    h0, h1, w0, w1 = geo.window[todo].T
    work = float((c * outh * (w1 - w0) * (h1 - h0 + outw)).sum())

    def run(block):
        c0, c1 = blocks[block]
        for k in todo:
            top, bottom, left, right = (int(v) for v in geo.window[k])
            grad = gy[k, c0:c1] / geo.count[k]  # (size, outh, outw), new
            # For each ph, (cols, outw) @ (outw, size): back through the
            # columns, channels last.
            spread = numpy.matmul(geo.weight_w[k, :, left:right].T,
                                  grad.transpose(1, 2, 0))
            # (rows, outh) @ (outh, cols * size): back through the rows.
            cells = numpy.matmul(geo.weight_h[k, :, top:bottom].T,
                                 spread.reshape(outh, -1))
            gx[roi_indices[k], top:bottom, left:right, c0:c1] += \
                cells.reshape(bottom - top, right - left, c1 - c0)

    parallel = len(blocks) > 1 and work >= PARALLEL_MIN_WORK
    with blas_threads(1):
        if parallel:
            run_parallel(run, len(blocks))
        else:
            for block in range(len(blocks)):
                run(block)
    return numpy.ascontiguousarray(gx.transpose(0, 3, 1, 2))
