"""RoI max pooling (Fast R-CNN, sec. 2.1) as a Chainer FunctionNode.

The semantics are those of ``torchvision.ops.roi_pool``, which the PyTorch
version uses (``RoIPool((7, 7), 1/16)``):

* each RoI corner is scaled by ``spatial_scale`` in the input's dtype and
  rounded half away from zero (C ``round``; NumPy's ``rint`` and chainer's own
  CPU ``roi_pooling_2d`` round half to even, which moves a RoI by a cell
  whenever a corner lands on ``k + 0.5``);
* the RoI spans ``end - start + 1`` cells (at least 1), split into
  ``outh x outw`` bins of ``roi_height / outh`` cells; bin ``ph`` covers
  rows ``[floor(ph * bin_h), ceil((ph + 1) * bin_h))`` from the RoI's start,
  clipped to the map, and columns likewise;
* a bin holds the maximum of its cells, the first one in row-major order
  among equal maxima; a bin with no cells gives 0; NaN cells are passed over
  and the maximum starts from the dtype's lowest finite value (so a bin of
  only NaN or -inf gives that value and receives no gradient);
* the gradient of a bin goes to the cell that gave its maximum.

The NumPy twin is vectorised with a two-dimensional sparse table (range
maximum query): the maximum over any ``h x w`` window is the maximum of four
precomputed ``2^kh x 2^kw`` windows that cover it, so every bin costs four
gathers of a channel vector whatever its size. The CuPy twin uses
ElementwiseKernels: one thread per output value forward, and one thread per
input cell backward (a gather over the RoIs in a fixed order, so the result is
deterministic and equals the NumPy twin's, which also sums in float64).
"""

import concurrent.futures
import os

import numpy

import chainer
from chainer import function_node
from chainer.utils import type_check

from fasterrcnn.backend import get_array_module


def _round_half_away(v, xp):
    """C ``round``: halves go away from zero (``rint`` sends them to even)."""
    r = xp.rint(v)
    frac = v - xp.trunc(v)
    return xp.where(xp.abs(frac) == 0.5, xp.trunc(v) + xp.sign(v), r)


def _bins(rois, outh, outw, spatial_scale, height, width, xp):
    """Bin edges of every RoI, as ``torchvision.ops.roi_pool`` computes them.

    Args:
        rois (array): ``(R, 4)`` float ``(y_min, x_min, y_max, x_max)`` in
            input-image pixels; the arithmetic is done in this dtype.

    Returns:
        tuple: ``hstart, hend`` ``(R, outh)`` and ``wstart, wend`` ``(R,
        outw)`` int32 cell indices, clipped to ``[0, height]`` / ``[0,
        width]``; a bin covers ``[start, end)``.
    """
    dtype = rois.dtype
    scaled = rois * dtype.type(spatial_scale)
    corner = _round_half_away(scaled, xp).astype(numpy.int32)
    start_h, start_w, end_h, end_w = (corner[:, k] for k in range(4))
    roi_h = xp.maximum(end_h - start_h + 1, 1).astype(dtype)
    roi_w = xp.maximum(end_w - start_w + 1, 1).astype(dtype)
    bin_h = roi_h / dtype.type(outh)
    bin_w = roi_w / dtype.type(outw)

    def edges(start, bin_size, n_bins, limit):
        index = xp.arange(n_bins, dtype=dtype)
        lo = xp.floor(index[None, :] * bin_size[:, None]).astype(numpy.int32)
        hi = xp.ceil((index[None, :] + 1) * bin_size[:, None]).astype(
            numpy.int32)
        lo = xp.clip(lo + start[:, None], 0, limit)
        hi = xp.clip(hi + start[:, None], 0, limit)
        return lo, hi

    hstart, hend = edges(start_h, bin_h, outh, height)
    wstart, wend = edges(start_w, bin_w, outw, width)
    return hstart, hend, wstart, wend


def _floor_log2(n):
    """``floor(log2(n))`` of a positive int array, exactly."""
    out = numpy.zeros(n.shape, dtype=numpy.int32)
    n = n.copy()
    while True:
        big = n > 1
        if not big.any():
            return out
        out += big
        n >>= 1


class _Workspace(object):
    """Scratch buffers kept between calls of the NumPy twin.

    The forward's temporaries are tens of MB (the key tables, and four
    ``(R * outh * outw, C)`` int64 gathers: 60 MB each for R = 300). Fresh
    arrays that large come from ``mmap`` and are page-faulted in on every
    call, which measured 1.5 to 2.4 times slower than reusing memory
    (bench/ops.py). The buffers grow to the largest call seen;
    :func:`release_workspace` frees them.
    """

    def __init__(self):
        self._buffers = {}

    def get(self, name, shape, dtype):
        dtype = numpy.dtype(dtype)
        size = int(numpy.prod(shape)) * dtype.itemsize
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = numpy.empty(size, dtype=numpy.uint8)
            self._buffers[name] = buf
        return buf[:size].view(dtype).reshape(shape)

    def clear(self):
        self._buffers.clear()


_workspace = _Workspace()


def release_workspace():
    """Free the scratch memory held by the NumPy RoI pooling."""
    _workspace.clear()


def _fill_order_key(val, out):
    """Write int64 keys whose maximum is the maximum value, then first cell.

    The high 32 bits order the values: for float32 the IEEE bits made
    monotonic (negative numbers have their magnitude bits flipped), for other
    dtypes the dense rank of the value. The low 32 bits hold ``2^31 - 1 -
    cell`` so that, among equal values, the smaller (first in row-major order)
    cell index wins, as torchvision's strict ``>`` scan does. One
    ``numpy.maximum`` then combines two windows, value and arg-max together.

    Args:
        val (numpy.ndarray): ``(N, H, W, C)`` float values without NaN; for
            float32 it is modified (-0.0 becomes 0.0).
        out (numpy.ndarray): ``(N, H, W, C)`` int64, receives the keys.

    Returns:
        callable: ``decode(high, out)`` writes the values of an int32 array
        of key high halves into ``out``.
    """
    n, height, width, c = val.shape
    if val.dtype == numpy.float32:
        # -0.0 and 0.0 are equal values: they get one key (that of 0.0).
        numpy.add(val, numpy.float32(0), out=val)
        high = val.view(numpy.int32)
        high = high ^ ((high >> 31) & numpy.int32(0x7FFFFFFF))

        def decode(high, out):
            bits = out.view(numpy.int32)
            numpy.right_shift(high, 31, out=bits)
            numpy.bitwise_and(bits, numpy.int32(0x7FFFFFFF), out=bits)
            numpy.bitwise_xor(bits, high, out=bits)
    else:
        unique, high = numpy.unique(val, return_inverse=True)
        high = high.reshape(val.shape).astype(numpy.int32)

        def decode(high, out):
            out[...] = unique[high]
    cell = numpy.arange(height * width, dtype=numpy.int64).reshape(
        1, height, width, 1)
    numpy.left_shift(high, 32, out=out, dtype=numpy.int64)
    numpy.bitwise_or(out, 0x7FFFFFFF - cell, out=out)
    return decode


def _split_key(key):
    """The high (value) and low (cell) int32 halves of int64 keys."""
    if numpy.little_endian:
        halves = key.view(numpy.int32).reshape(key.shape + (2,))
        return halves[..., 1], halves[..., 0]
    return ((key >> 32).astype(numpy.int32),
            (key & 0xFFFFFFFF).astype(numpy.int32))


def _forward_numpy(x, rois, roi_indices, outh, outw, spatial_scale):
    """Returns ``y`` ``(R, C, outh, outw)`` and the arg-max cells ``(R,
    outh, outw, C)`` int32 (channels last, the layout the backward reads)."""
    n, c, height, width = x.shape
    r = len(rois)
    lowest = numpy.finfo(x.dtype).min
    if r == 0:
        return (numpy.zeros((0, c, outh, outw), dtype=x.dtype),
                numpy.zeros((0, outh, outw, c), dtype=numpy.int32))
    hstart, hend, wstart, wend = _bins(
        rois, outh, outw, spatial_scale, height, width, numpy)
    # (R, outh, outw) bin geometry, then only the bins that hold a cell.
    hs = numpy.broadcast_to(hstart[:, :, None], (r, outh, outw))
    he = numpy.broadcast_to(hend[:, :, None], (r, outh, outw))
    ws = numpy.broadcast_to(wstart[:, None, :], (r, outh, outw))
    we = numpy.broadcast_to(wend[:, None, :], (r, outh, outw))
    full = (he > hs) & (we > ws)
    all_full = bool(full.all())
    # Empty bins give 0 and no arg-max; full ones are written below.
    y = numpy.empty((r, c, outh, outw), dtype=x.dtype) if all_full else \
        numpy.zeros((r, c, outh, outw), dtype=x.dtype)
    if not all_full:
        argmax = numpy.full((r, outh, outw, c), -1, dtype=numpy.int32)
        if not full.any():
            return y, argmax
        hs, he, ws, we = hs[full], he[full], ws[full], we[full]
    nb = numpy.broadcast_to(roi_indices[:, None, None], full.shape)
    if not all_full:
        nb = nb[full]
    hs, he, ws, we, nb = (a.ravel() for a in (hs, he, ws, we, nb))
    kh = _floor_log2(he - hs)
    kw = _floor_log2(we - ws)
    n_kh = int(kh.max()) + 1
    n_kw = int(kw.max()) + 1

    # Channels last, so that each gather below reads one contiguous vector.
    val = _workspace.get('val', (n, height, width, c), x.dtype)
    val[...] = x.transpose(0, 2, 3, 1)
    nan = numpy.isnan(val)
    if nan.any():
        val[nan] = -numpy.inf
    # table[i, j, n, h, w]: the key of the 2^i x 2^j window whose top-left
    # cell is (h, w). Windows that would cross the map's edge keep a smaller
    # window's key; they are never read.
    table = _workspace.get('table', (n_kh, n_kw, n, height, width, c),
                           numpy.int64)
    decode = _fill_order_key(val, table[0, 0])
    for i in range(n_kh):
        if i:
            step = 1 << (i - 1)
            prev = table[i - 1, 0]
            numpy.maximum(prev[:, :-step], prev[:, step:],
                          out=table[i, 0, :, :-step])
            table[i, 0, :, -step:] = prev[:, -step:]
        for j in range(1, n_kw):
            step = 1 << (j - 1)
            prev = table[i, j - 1]
            numpy.maximum(prev[:, :, :-step], prev[:, :, step:],
                          out=table[i, j, :, :, :-step])
            table[i, j, :, :, -step:] = prev[:, :, -step:]
    table = table.reshape(-1, c)

    # Four windows of 2^kh x 2^kw cells cover each bin exactly.
    base = (kh * n_kw + kw) * n + nb
    bottom = he - (1 << kh)
    right = we - (1 << kw)
    rows = [(base * height + h) * width + w for h, w in
            ((hs, ws), (hs, right), (bottom, ws), (bottom, right))]
    k = len(hs)
    best = _workspace.get('best', (k, c), x.dtype)
    cell = numpy.empty((k, c), dtype=numpy.int32)
    bins = outh * outw

    def work(part, r0, r1):
        k0, k1 = (r0 * bins, r1 * bins) if all_full else (r0, r1)
        key = _workspace.get('key%d' % part, (k1 - k0, c), numpy.int64)
        other = _workspace.get('other%d' % part, (k1 - k0, c), numpy.int64)
        for corner in range(4):
            # mode='clip' lets take() write straight into `out` (the rows
            # are valid); the default mode buffers the result first.
            numpy.take(table, rows[corner][k0:k1], axis=0,
                       out=key if corner == 0 else other, mode='clip')
            if corner:
                numpy.maximum(key, other, out=key)
        high, low = _split_key(key)
        decode(high, best[k0:k1])
        numpy.subtract(numpy.int32(0x7FFFFFFF), low, out=cell[k0:k1])
        # torchvision starts each bin's maximum at the lowest finite value
        # and replaces it only with a strictly greater cell.
        if len(best[k0:k1]) and best[k0:k1].min() <= lowest:
            none = best[k0:k1] <= lowest
            best[k0:k1][none] = lowest
            cell[k0:k1][none] = -1
        if all_full:
            y[r0:r1] = best[k0:k1].reshape(r1 - r0, outh, outw, c).transpose(
                0, 3, 1, 2)

    _run_parallel(work, r if all_full else k, k * c)
    if all_full:
        argmax = cell.reshape(r, outh, outw, c)
    else:
        y_last = numpy.zeros((r, outh, outw, c), dtype=x.dtype)
        y_last[full] = best
        y[...] = y_last.transpose(0, 3, 1, 2)
        argmax[full] = cell
    return y, argmax


#: Below this many output values one thread does the work: handing it to
#: threads costs more than it saves.
_PARALLEL_MIN_SIZE = 1 << 18
_executor = None


def _threads():
    return min(os.cpu_count() or 1, 4)


def _run_parallel(work, length, size):
    """Run ``work(part, start, stop)`` over ``[0, length)`` in threads.

    The heavy steps (``take``, ``maximum``, the bit operations and the
    transposing copy) release the GIL, so the parts run at once: on 2 cores
    this took the forward for R = 300 from 80 ms to about 50 ms
    (bench/ops.py). The parts write disjoint slices.
    """
    global _executor
    n_parts = _threads() if size >= _PARALLEL_MIN_SIZE else 1
    n_parts = max(1, min(n_parts, length))
    bounds = [length * i // n_parts for i in range(n_parts + 1)]
    if n_parts == 1:
        work(0, 0, length)
        return
    if _executor is None:
        _executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=_threads(), thread_name_prefix='fasterrcnn-roi-pool')
    futures = [_executor.submit(work, i, bounds[i], bounds[i + 1])
               for i in range(n_parts)]
    for future in futures:
        future.result()


def _backward_numpy(gy, argmax, roi_indices, x_shape):
    """Scatter each bin's gradient to its arg-max cell.

    Args:
        gy (numpy.ndarray): ``(R, C, outh, outw)`` output gradient.
        argmax (numpy.ndarray): ``(R, outh, outw, C)`` int32 flat cell index
            ``h * W + w`` of each bin's maximum, -1 for none.
        roi_indices (numpy.ndarray): ``(R,)`` int32 image of each RoI.
        x_shape (tuple): ``(N, C, H, W)``.

    Returns:
        numpy.ndarray: ``(N, C, H, W)`` gradient, dtype of ``gy``.
    """
    n, c, height, width = x_shape
    if len(argmax) == 0:
        return numpy.zeros(x_shape, dtype=gy.dtype)
    cell = argmax.transpose(0, 3, 1, 2)
    # Flat NCHW position of every bin's arg-max cell, in gy's order.
    plane = (roi_indices.astype(numpy.int64)[:, None] * c +
             numpy.arange(c)[None, :]) * (height * width)
    position = _workspace.get('position', gy.shape, numpy.int64)
    numpy.add(cell, plane[:, :, None, None], out=position)
    # bincount sums in float64: a cell hit by several bins gets one rounding.
    weight = _workspace.get('weight', gy.shape, numpy.float64)
    weight[...] = gy
    hit = cell >= 0
    if hit.all():
        total = numpy.bincount(position.ravel(), weights=weight.ravel(),
                               minlength=n * c * height * width)
    else:
        total = numpy.bincount(position[hit], weights=weight[hit],
                               minlength=n * c * height * width)
    return total.astype(gy.dtype).reshape(x_shape)


# Bin edges of one RoI, shared by both kernels: exactly the NumPy twin's
# `_bins` (torchvision's roi_pool arithmetic, C `round` half away from zero).
_PREAMBLE = r'''
template <typename T>
__device__ void fasterrcnn_roi_bins(
        const T* roi, const T spatial_scale, const int pooled_h,
        const int pooled_w, int* start_h, int* start_w, T* bin_h, T* bin_w) {
    *start_h = (int)round(roi[0] * spatial_scale);
    *start_w = (int)round(roi[1] * spatial_scale);
    const int end_h = (int)round(roi[2] * spatial_scale);
    const int end_w = (int)round(roi[3] * spatial_scale);
    *bin_h = (T)max(end_h - *start_h + 1, 1) / (T)pooled_h;
    *bin_w = (T)max(end_w - *start_w + 1, 1) / (T)pooled_w;
}

// [lo, hi) of bin `p` of size `bin` from `start`, clipped to [0, limit].
template <typename T>
__device__ void fasterrcnn_bin_range(const int p, const T bin,
                                     const int start, const int limit,
                                     int* lo, int* hi) {
    *lo = min(max((int)floor((T)p * bin) + start, 0), limit);
    *hi = min(max((int)ceil((T)(p + 1) * bin) + start, 0), limit);
}
'''

_FORWARD_SOURCE = r'''
    const int pw = i % pooled_w;
    const int ph = (i / pooled_w) % pooled_h;
    const int c = (i / pooled_w / pooled_h) % channels;
    const int r = i / pooled_w / pooled_h / channels;
    const int n = roi_indices[r];
    int start_h, start_w, hstart, hend, wstart, wend;
    T bin_h, bin_w;
    fasterrcnn_roi_bins(&rois[r * 4], spatial_scale, pooled_h, pooled_w,
                        &start_h, &start_w, &bin_h, &bin_w);
    fasterrcnn_bin_range(ph, bin_h, start_h, height, &hstart, &hend);
    fasterrcnn_bin_range(pw, bin_w, start_w, width, &wstart, &wend);
    const bool is_empty = (hend <= hstart) || (wend <= wstart);
    T best = is_empty ? (T)0 : lowest;
    int best_index = -1;
    const T* plane = &x[((long long)n * channels + c) * height * width];
    for (int h = hstart; h < hend; ++h) {
        for (int w = wstart; w < wend; ++w) {
            const int index = h * width + w;
            if (plane[index] > best) {
                best = plane[index];
                best_index = index;
            }
        }
    }
    y = best;
    argmax = best_index;
'''

# One thread per input cell: visit the RoIs of its image in order and add the
# output gradients of the bins whose arg-max is this cell. Summed in double,
# like the NumPy twin's bincount, so that the two agree bit for bit.
_BACKWARD_SOURCE = r'''
    const int w = i % width;
    const int h = (i / width) % height;
    const int c = (i / width / height) % channels;
    const int n = i / width / height / channels;
    const int cell = h * width + w;
    double total = 0;
    for (int r = 0; r < n_rois; ++r) {
        if (roi_indices[r] != n) continue;
        int start_h, start_w, hstart, hend, wstart, wend;
        T bin_h, bin_w;
        fasterrcnn_roi_bins(&rois[r * 4], spatial_scale, pooled_h, pooled_w,
                            &start_h, &start_w, &bin_h, &bin_w);
        const long long offset =
            ((long long)r * channels + c) * pooled_h * pooled_w;
        for (int ph = 0; ph < pooled_h; ++ph) {
            fasterrcnn_bin_range(ph, bin_h, start_h, height, &hstart, &hend);
            if (h < hstart || h >= hend) continue;
            for (int pw = 0; pw < pooled_w; ++pw) {
                fasterrcnn_bin_range(pw, bin_w, start_w, width, &wstart,
                                     &wend);
                if (w < wstart || w >= wend) continue;
                const long long k = offset + ph * pooled_w + pw;
                if (argmax[k] == cell) total += (double)gy[k];
            }
        }
    }
    gx = (T)total;
'''

#: (input parameters, output parameters, body, preamble) of the two
#: ElementwiseKernels.
_FORWARD_KERNEL = (
    'raw T x, raw T rois, raw int32 roi_indices, int32 channels, '
    'int32 height, int32 width, int32 pooled_h, int32 pooled_w, '
    'T spatial_scale, T lowest',
    'T y, int32 argmax', _FORWARD_SOURCE, _PREAMBLE)
_BACKWARD_KERNEL = (
    'raw T gy, raw int32 argmax, raw T rois, raw int32 roi_indices, '
    'int32 n_rois, int32 channels, int32 height, int32 width, '
    'int32 pooled_h, int32 pooled_w, T spatial_scale',
    'T gx', _BACKWARD_SOURCE, _PREAMBLE)

_kernels = {}


def _cupy_kernel(name):
    """The forward or backward ElementwiseKernel, built once."""
    if name not in _kernels:
        import cupy
        in_params, out_params, body, preamble = \
            _FORWARD_KERNEL if name == 'forward' else _BACKWARD_KERNEL
        _kernels[name] = cupy.ElementwiseKernel(
            in_params, out_params, body,
            name='fasterrcnn_roi_pooling_2d_' + name, preamble=preamble)
    return _kernels[name]


class RoIPooling2D(function_node.FunctionNode):
    """RoI max pooling; see :func:`roi_pooling_2d`."""

    def __init__(self, outh, outw, spatial_scale):
        self.outh = outh
        self.outw = outw
        self.spatial_scale = spatial_scale

    def check_type_forward(self, in_types):
        type_check._argname(in_types, ('x', 'rois', 'roi_indices'))
        x_type, rois_type, roi_indices_type = in_types
        type_check.expect(
            x_type.dtype.kind == 'f',
            x_type.ndim == 4,
            rois_type.dtype == x_type.dtype,
            rois_type.ndim == 2,
            rois_type.shape[1] == 4,
            roi_indices_type.dtype == numpy.int32,
            roi_indices_type.ndim == 1,
            rois_type.shape[0] == roi_indices_type.shape[0],
        )

    def forward_cpu(self, inputs):
        x, rois, roi_indices = inputs
        self._x_shape = x.shape
        y, self.argmax = _forward_numpy(
            x, rois, roi_indices, self.outh, self.outw, self.spatial_scale)
        self.retain_inputs((1, 2))
        return y,

    def forward_gpu(self, inputs):
        import cupy
        x, rois, roi_indices = inputs
        self._x_shape = x.shape
        r = len(rois)
        c = x.shape[1]
        y = cupy.empty((r, c, self.outh, self.outw), dtype=x.dtype)
        self.argmax = cupy.empty(y.shape, dtype=numpy.int32)
        if r:
            _cupy_kernel('forward')(
                x, rois, roi_indices, c, x.shape[2], x.shape[3], self.outh,
                self.outw, x.dtype.type(self.spatial_scale),
                numpy.finfo(x.dtype).min, y, self.argmax)
        self.retain_inputs((1, 2))
        return y,

    def backward(self, indexes, grad_outputs):
        rois, roi_indices = self.get_retained_inputs()
        gx = RoIPooling2DGrad(self).apply(
            (rois, roi_indices, grad_outputs[0]))[0]
        return gx, None, None


class RoIPooling2DGrad(function_node.FunctionNode):
    """The gradient of :class:`RoIPooling2D`, itself differentiable.

    It is linear in ``gy``: it scatters each bin's gradient to its arg-max
    cell, so its own gradient gathers ``ggx`` at the arg-max cells.
    """

    def __init__(self, forward):
        self.outh = forward.outh
        self.outw = forward.outw
        self.spatial_scale = forward.spatial_scale
        self.x_shape = forward._x_shape
        self.argmax = forward.argmax

    def forward_cpu(self, inputs):
        rois, roi_indices, gy = inputs
        self.retain_inputs((1,))
        return _backward_numpy(gy, self.argmax, roi_indices, self.x_shape),

    def forward_gpu(self, inputs):
        import cupy
        rois, roi_indices, gy = inputs
        self.retain_inputs((1,))
        n, c, height, width = self.x_shape
        gx = cupy.empty(self.x_shape, dtype=gy.dtype)
        _cupy_kernel('backward')(
            gy, self.argmax, rois, roi_indices, len(rois), c, height, width,
            self.outh, self.outw, gy.dtype.type(self.spatial_scale), gx)
        return gx,

    def backward(self, indexes, grad_outputs):
        roi_indices, = self.get_retained_inputs()
        ggx = grad_outputs[0]
        xp = get_array_module(ggx)
        n, c, height, width = self.x_shape
        rows = roi_indices.array[:, None, None, None].astype(numpy.int64)
        chans = xp.arange(c)[None, :, None, None]
        argmax = self.argmax
        if xp is numpy:
            # The NumPy twin keeps the arg-max channels last.
            argmax = argmax.transpose(0, 3, 1, 2)
        hit = argmax >= 0
        flat = (rows * c + chans) * (height * width) + \
            xp.where(hit, argmax, 0)
        taken = chainer.functions.get_item(
            chainer.functions.reshape(ggx, (-1,)), flat)
        ggy = taken * hit.astype(ggx.dtype)
        return None, None, ggy


def roi_pooling_2d(x, rois, roi_indices, outsize, spatial_scale):
    """RoI max pooling with the semantics of ``torchvision.ops.roi_pool``.

    Args:
        x (chainer.Variable or array): ``(N, C, H, W)`` float feature maps.
        rois (array): ``(R, 4)`` RoIs, same dtype as ``x``, ``(y_min, x_min,
            y_max, x_max)`` in input-image pixels.
        roi_indices (array): ``(R,)`` int32, the image of each RoI in
            ``[0, N)``.
        outsize (int or (int, int)): ``(outh, outw)`` bins per RoI.
        spatial_scale (float): feature-map cells per image pixel (1/16 for
            VGG16's conv5_3).

    Returns:
        chainer.Variable: ``(R, C, outh, outw)`` pooled features.
    """
    if isinstance(outsize, int):
        outh = outw = outsize
    else:
        outh, outw = outsize
    if outh <= 0 or outw <= 0:
        raise ValueError('outsize must be positive, got {}'.format(outsize))
    if spatial_scale <= 0:
        raise ValueError('spatial_scale must be positive, got {}'.format(
            spatial_scale))
    return RoIPooling2D(outh, outw, spatial_scale).apply(
        (x, rois, roi_indices))[0]
