"""CuPy backend of RoI max pooling: the CUDA sources and their launches.

This module owns everything that runs on the GPU: the CUDA text (a shared
preamble and the bodies of two ElementwiseKernels), the kernels built from it
once per process, and :func:`forward` / :func:`backward`, which allocate the
outputs and launch them. The Chainer FunctionNodes in the package
``__init__`` call these for CuPy inputs; the NumPy twin in ``numpy_impl``
computes the same values bit for bit.

Why this shape:

* forward: one thread per output value ``(r, c, ph, pw)`` scans its bin with
  torchvision's strict ``>`` (first cell wins among equal maxima, NaN is
  passed over because every comparison with it is false);
* backward: one thread per *input* cell visits the RoIs of its image in a
  fixed order and adds the gradients of the bins whose arg-max it is. A
  gather, not an ``atomicAdd`` scatter, so the sum's order (and therefore its
  rounding) is the same on every run; it sums in double, as the NumPy twin's
  ``bincount`` does, so the two agree exactly.

CuPy is imported only when a kernel is first needed, so this module imports
on machines without it; the kernel tuples are plain strings so that the test
suite can compile them with nvcc without a GPU (tests/support/cuda_compile.py).
"""

import numpy

# Bin edges of one RoI, shared by both kernels: exactly the NumPy twin's
# `_bins` (torchvision's roi_pool arithmetic, C `round` half away from zero).
# `roi` points at (y_min, x_min, y_max, x_max) in input-image pixels.
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

# One thread per output value `i` = flat index into y (R, C, outh, outw).
# An empty bin gives 0; a full one starts from `lowest` (the dtype's lowest
# finite value) and takes only strictly greater cells, as torchvision does.
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
#: ElementwiseKernels. Plain strings, so that tests/support/cuda_compile.py can
#: compile them with nvcc where no GPU is present.
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
    """The ``'forward'`` or ``'backward'`` ElementwiseKernel, built once.

    Built lazily so that importing this module needs no CuPy.
    """
    if name not in _kernels:
        import cupy
        in_params, out_params, body, preamble = \
            _FORWARD_KERNEL if name == 'forward' else _BACKWARD_KERNEL
        _kernels[name] = cupy.ElementwiseKernel(
            in_params, out_params, body,
            name='fasterrcnn_roi_pooling_2d_' + name, preamble=preamble)
    return _kernels[name]


def forward(x, rois, roi_indices, outh, outw, spatial_scale):
    """RoI max pooling on the GPU.

    Args:
        x (cupy.ndarray): ``(N, C, H, W)`` float32 or float64 feature maps,
            C-contiguous (the kernel walks a channel plane by pointer).
        rois (cupy.ndarray): ``(R, 4)`` RoIs, dtype of ``x``, ``(y_min,
            x_min, y_max, x_max)`` in input-image pixels, C-contiguous.
        roi_indices (cupy.ndarray): ``(R,)`` int32, the image of each RoI in
            ``[0, N)``.
        outh (int): bins per RoI vertically.
        outw (int): bins per RoI horizontally.
        spatial_scale (float): feature-map cells per image pixel.

    Returns:
        tuple: ``y`` ``(R, C, outh, outw)`` dtype of ``x``, and ``argmax``
        ``(R, C, outh, outw)`` int32, the flat cell ``h * W + w`` of each
        bin's maximum or -1 for none. Channels come second here, unlike the
        NumPy twin's channels-last arg-max, because one thread writes one
        output value and reads its own arg-max back in :func:`backward`.
    """
    import cupy
    r = len(rois)
    c = x.shape[1]
    y = cupy.empty((r, c, outh, outw), dtype=x.dtype)
    argmax = cupy.empty(y.shape, dtype=numpy.int32)
    if r:
        # With no RoI the outputs are empty: there is nothing to launch.
        _cupy_kernel('forward')(
            x, rois, roi_indices, c, x.shape[2], x.shape[3], outh, outw,
            x.dtype.type(spatial_scale), numpy.finfo(x.dtype).min, y,
            argmax)
    return y, argmax


def backward(gy, argmax, rois, roi_indices, x_shape, outh, outw,
             spatial_scale):
    """Gradient of :func:`forward` with respect to ``x``.

    Args:
        gy (cupy.ndarray): ``(R, C, outh, outw)`` output gradient, dtype of
            ``x``.
        argmax (cupy.ndarray): ``(R, C, outh, outw)`` int32 from
            :func:`forward`.
        rois (cupy.ndarray): ``(R, 4)`` the forward's RoIs, ``(y_min, x_min,
            y_max, x_max)`` in input-image pixels; the bins are recomputed
            from them so that each thread can skip RoIs that miss its cell.
        roi_indices (cupy.ndarray): ``(R,)`` int32 image of each RoI.
        x_shape (tuple): ``(N, C, H, W)`` of the forward's input.
        outh (int): bins per RoI vertically.
        outw (int): bins per RoI horizontally.
        spatial_scale (float): the forward's scale.

    Returns:
        cupy.ndarray: ``(N, C, H, W)`` gradient, dtype of ``gy``.
    """
    import cupy
    n, c, height, width = x_shape
    gx = cupy.empty(x_shape, dtype=gy.dtype)
    _cupy_kernel('backward')(
        gy, argmax, rois, roi_indices, len(rois), c, height, width, outh,
        outw, gy.dtype.type(spatial_scale), gx)
    return gx
