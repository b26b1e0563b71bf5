"""CuPy backend of RoIAlign: the CUDA sources and their launches.

This module owns everything that runs on the GPU: the CUDA text (a shared
preamble and the bodies of two ElementwiseKernels), the kernels built from it
once per process, and :func:`forward` / :func:`backward`, which allocate the
outputs and launch them. The Chainer FunctionNodes in the package
``__init__`` call these for CuPy inputs.

Why this shape:

* forward: one thread per output value ``(r, c, ph, pw)`` walks its bin's
  ``grid_h x grid_w`` samples and sums their bilinear interpolations, as
  torchvision's kernel does, then divides by the count;
* backward: one thread per *input* cell ``(n, c, h, w)`` visits the RoIs
  of its image in order, skips those whose samples cannot reach it (one
  bound per axis, see the preamble), and adds the gradient share of every
  sample that interpolates it. A gather, not torchvision's ``atomicAdd``
  scatter: the sum's order, and so its rounding, is the same on every run,
  as for RoI pooling (``roi_pooling/cuda_impl.py``); it sums in double.

The sample positions and weights are the NumPy twin's (and torchvision's)
expressions in the same order, and the kernels are compiled without fused
multiply-adds (NVRTC ``--fmad=false``, :data:`OPTIONS`), so that a position
is rounded as on the CPU and a sample never lands on another side of a cell
edge: the forward kernel run on the host equals torchvision's CPU kernel
bit for bit (tests/functions/roi_align/test_cuda_host.py), and on a GPU it
computes the same IEEE operations. The sums are not the twin's: it sums
through GEMMs, so the two agree to float rounding, not bit for bit
(``numpy_impl``'s docstring; the tests bound the difference).

CuPy is imported only when a kernel is first needed, so this module imports
on machines without it; the kernel tuples are plain strings so that the test
suite can compile them with nvcc, and run them on the host, without a GPU
(tests/support/cuda_compile.py, tests/support/cuda_host.py).
"""

# Geometry shared by both kernels: the NumPy twin's `geometry` per RoI.
# `roi` points at (y_min, x_min, y_max, x_max) in input-image pixels.
_PREAMBLE = r'''
// Samples per bin on one axis: the fixed ratio, or adaptive ceil(bin)
// (torchvision's sampling_ratio <= 0). A ceiling that is not a finite
// number in [1, 2^31) has no sample: the bin gives 0.
template <typename T>
__device__ int fasterrcnn_align_grid(const int sampling, const T bin) {
    if (sampling > 0) return sampling;
    const double ceiling = ceil((double)bin);
    return (ceiling >= 1.0 && ceiling < 2147483648.0) ? (int)ceiling : 0;
}

// First edge, bin extent and samples per bin of one RoI on both axes, in
// torchvision's arithmetic: scaled corners, less half a cell if aligned;
// without `aligned`, a RoI is at least one cell (a NaN stays NaN).
template <typename T>
__device__ void fasterrcnn_align_roi(
        const T* roi, const T spatial_scale, const int aligned,
        const int pooled_h, const int pooled_w, const int sampling_h,
        const int sampling_w, T* start_h, T* start_w, T* bin_h, T* bin_w,
        int* grid_h, int* grid_w) {
    const T offset = aligned ? (T)0.5 : (T)0;
    *start_h = roi[0] * spatial_scale - offset;
    *start_w = roi[1] * spatial_scale - offset;
    T size_h = (roi[2] * spatial_scale - offset) - *start_h;
    T size_w = (roi[3] * spatial_scale - offset) - *start_w;
    if (!aligned) {
        size_h = (size_h < (T)1) ? (T)1 : size_h;
        size_w = (size_w < (T)1) ? (T)1 : size_w;
    }
    *bin_h = size_h / (T)pooled_h;
    *bin_w = size_w / (T)pooled_w;
    *grid_h = fasterrcnn_align_grid(sampling_h, *bin_h);
    *grid_w = fasterrcnn_align_grid(sampling_w, *bin_w);
}

// Position of sample k of bin p: torchvision's expression, in its order.
template <typename T>
__device__ T fasterrcnn_align_position(const T start, const T bin,
                                       const int p, const int k,
                                       const int grid) {
    return start + (T)p * bin + (T)(k + 0.5f) * bin / (T)grid;
}

// The two cells a sample at `pos` reads on an axis of `limit` cells and
// their weights; false if the sample is empty (below -1, beyond `limit`,
// or NaN: written as "not inside" so that NaN takes this branch). From -1
// to 0 it reads cell 0; at or past the last cell, the last cell alone.
template <typename T>
__device__ bool fasterrcnn_align_tap(T pos, const int limit, int* low,
                                     int* high, T* w_low, T* w_high) {
    if (!(pos >= (T)-1 && pos <= (T)limit)) return false;
    if (pos <= (T)0) pos = 0;
    *low = (int)pos;
    if (*low >= limit - 1) {
        *low = *high = limit - 1;
        pos = (T)*low;
    } else {
        *high = *low + 1;
    }
    *w_high = pos - (T)*low;
    *w_low = (T)1 - *w_high;
    return true;
}

// Whether a sample of this RoI may read cell `cell` of `limit` on an axis
// (false only where none does). The position is monotonic in p and in k,
// each rounded operation being monotonic, so the first and the last
// sample bound them all. A sample below cell - 1 reads cells below `cell`
// (or, from -1 to 0, cell 0 with weight 1 and cell 1 with weight 0); one
// at cell + 1 or beyond reads cells above it, unless `cell` is the last,
// which takes every sample past it. The bounds keep a cell to spare: a
// sample is never dropped for a rounding of the bound. If the bounds are
// NaN, every sample is: false.
template <typename T>
__device__ bool fasterrcnn_align_reaches(const T start, const T bin,
                                         const int pooled, const int grid,
                                         const int cell, const int limit) {
    const T first = fasterrcnn_align_position(start, bin, 0, 0, grid);
    const T last = fasterrcnn_align_position(start, bin, pooled - 1,
                                             grid - 1, grid);
    const T lo = first < last ? first : last;
    const T hi = first < last ? last : first;
    return hi >= (T)(cell - 2) && (lo < (T)(cell + 2) || cell >= limit - 1);
}
'''

# One thread per output value `i` = flat index into y (R, C, outh, outw):
# the mean of the bin's samples, each the bilinear interpolation of four
# cells (weight products as torchvision forms them: y weight * x weight).
_FORWARD_SOURCE = r'''
    const int pw = i % pooled_w;
    const int ph = (i / pooled_w) % pooled_h;
    const int c = (i / pooled_w / pooled_h) % channels;
    const long long r = i / pooled_w / pooled_h / channels;
    T start_h, start_w, bin_h, bin_w;
    int grid_h, grid_w;
    fasterrcnn_align_roi(&rois[r * 4], spatial_scale, aligned, pooled_h,
                         pooled_w, sampling_h, sampling_w, &start_h,
                         &start_w, &bin_h, &bin_w, &grid_h, &grid_w);
    const T* plane =
        &x[((long long)roi_indices[r] * channels + c) * height * width];
    T total = 0;
    for (int iy = 0; iy < grid_h; ++iy) {
        int y_low, y_high;
        T wy_low, wy_high;
        if (!fasterrcnn_align_tap(
                fasterrcnn_align_position(start_h, bin_h, ph, iy, grid_h),
                height, &y_low, &y_high, &wy_low, &wy_high)) continue;
        for (int ix = 0; ix < grid_w; ++ix) {
            int x_low, x_high;
            T wx_low, wx_high;
            if (!fasterrcnn_align_tap(
                    fasterrcnn_align_position(start_w, bin_w, pw, ix,
                                              grid_w),
                    width, &x_low, &x_high, &wx_low, &wx_high)) continue;
            total += wy_low * wx_low * plane[y_low * width + x_low] +
                     wy_low * wx_high * plane[y_low * width + x_high] +
                     wy_high * wx_low * plane[y_high * width + x_low] +
                     wy_high * wx_high * plane[y_high * width + x_high];
        }
    }
    const long long count = (long long)grid_h * grid_w;
    y = total / (T)(count > 1 ? count : 1);
'''

# One thread per input cell: visit the RoIs of its image in order and add,
# for every sample that reads this cell, the bin's gradient times the
# sample's weight for it, over the count (torchvision's g * w / count).
# Summed in double, in a fixed order: the same bits on every run.
_BACKWARD_SOURCE = r'''
    const int w = i % width;
    const int h = (i / width) % height;
    const int c = (i / width / height) % channels;
    const int n = i / width / height / channels;
    double total = 0;
    for (int r = 0; r < n_rois; ++r) {
        if (roi_indices[r] != n) continue;
        T start_h, start_w, bin_h, bin_w;
        int grid_h, grid_w;
        fasterrcnn_align_roi(&rois[r * 4], spatial_scale, aligned, pooled_h,
                             pooled_w, sampling_h, sampling_w, &start_h,
                             &start_w, &bin_h, &bin_w, &grid_h, &grid_w);
        if (grid_h <= 0 || grid_w <= 0) continue;
        if (!fasterrcnn_align_reaches(start_h, bin_h, pooled_h, grid_h, h,
                                      height) ||
            !fasterrcnn_align_reaches(start_w, bin_w, pooled_w, grid_w, w,
                                      width)) continue;
        const T count = (T)((long long)grid_h * grid_w);
        const long long offset =
            ((long long)r * channels + c) * pooled_h * pooled_w;
        for (int ph = 0; ph < pooled_h; ++ph) {
            for (int iy = 0; iy < grid_h; ++iy) {
                int y_low, y_high;
                T wy_low, wy_high;
                if (!fasterrcnn_align_tap(
                        fasterrcnn_align_position(start_h, bin_h, ph, iy,
                                                  grid_h),
                        height, &y_low, &y_high, &wy_low, &wy_high)) continue;
                if (y_low != h && y_high != h) continue;
                // At the last row both cells are that row, weights 1 and 0.
                const T wy = (y_low == h) ? wy_low : wy_high;
                for (int pw = 0; pw < pooled_w; ++pw) {
                    const T g = gy[offset + ph * pooled_w + pw];
                    for (int ix = 0; ix < grid_w; ++ix) {
                        int x_low, x_high;
                        T wx_low, wx_high;
                        if (!fasterrcnn_align_tap(
                                fasterrcnn_align_position(start_w, bin_w, pw,
                                                          ix, grid_w),
                                width, &x_low, &x_high, &wx_low,
                                &wx_high)) continue;
                        if (x_low != w && x_high != w) continue;
                        const T wx = (x_low == w) ? wx_low : wx_high;
                        total += (double)(g * (wy * wx) / count);
                    }
                }
            }
        }
    }
    gx = (T)total;
'''

#: (input parameters, output parameters, body, preamble) of the two
#: ElementwiseKernels. Plain strings, so that tests/support/cuda_compile.py
#: and tests/support/cuda_host.py can compile them without a GPU.
_FORWARD_KERNEL = (
    'raw T x, raw T rois, raw int32 roi_indices, int32 channels, '
    'int32 height, int32 width, int32 pooled_h, int32 pooled_w, '
    'int32 sampling_h, int32 sampling_w, int32 aligned, T spatial_scale',
    'T y', _FORWARD_SOURCE, _PREAMBLE)
_BACKWARD_KERNEL = (
    'raw T gy, raw T rois, raw int32 roi_indices, int32 n_rois, '
    'int32 channels, int32 height, int32 width, int32 pooled_h, '
    'int32 pooled_w, int32 sampling_h, int32 sampling_w, int32 aligned, '
    'T spatial_scale',
    'T gx', _BACKWARD_SOURCE, _PREAMBLE)

#: NVRTC options of both kernels: no fused multiply-add, so that every
#: product and sum is rounded on its own, as in C on the host and in
#: torchvision's CPU kernel (a fused `start + p * bin` would move a sample
#: position by up to half an ulp, and its weights with it).
OPTIONS = ('--fmad=false',)

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
            name='fasterrcnn_roi_align_2d_' + name, preamble=preamble,
            options=OPTIONS)
    return _kernels[name]


def forward(x, rois, roi_indices, outh, outw, spatial_scale, sampling,
            aligned):
    """RoIAlign on the GPU.

    Args:
        x (cupy.ndarray): ``(N, C, H, W)`` float32 or float64 feature maps
            (made C-contiguous here: the kernel walks a channel plane by
            pointer).
        rois (cupy.ndarray): ``(R, 4)`` RoIs, dtype of ``x``, ``(y_min,
            x_min, y_max, x_max)`` in input-image pixels.
        roi_indices (cupy.ndarray): ``(R,)`` int32, the image of each RoI in
            ``[0, N)`` (checked by the caller).
        outh (int): bins per RoI vertically.
        outw (int): bins per RoI horizontally.
        spatial_scale (float): feature-map cells per image pixel.
        sampling (tuple): ``(sampling_h, sampling_w)``, 0 for adaptive.
        aligned (bool): torchvision's ``aligned`` (half-pixel shift).

    Returns:
        cupy.ndarray: ``(R, C, outh, outw)``, dtype of ``x``.
    """
    import cupy
    x = cupy.ascontiguousarray(x)
    rois = cupy.ascontiguousarray(rois)
    roi_indices = cupy.ascontiguousarray(roi_indices)
    c = x.shape[1]
    if x.shape[2] == 0 or x.shape[3] == 0:
        # An empty map has no cell to read (the twin gives 0 too).
        return cupy.zeros((len(rois), c, outh, outw), dtype=x.dtype)
    y = cupy.empty((len(rois), c, outh, outw), dtype=x.dtype)
    if y.size:
        # With no RoI the output is empty: there is nothing to launch.
        _cupy_kernel('forward')(
            x, rois, roi_indices, c, x.shape[2], x.shape[3], outh, outw,
            sampling[0], sampling[1], int(aligned),
            x.dtype.type(spatial_scale), y)
    return y


def backward(gy, rois, roi_indices, x_shape, outh, outw, spatial_scale,
             sampling, aligned):
    """Gradient of :func:`forward` with respect to ``x``.

    Args:
        gy (cupy.ndarray): ``(R, C, outh, outw)`` output gradient, dtype of
            ``x``.
        rois (cupy.ndarray): ``(R, 4)`` the forward's RoIs, ``(y_min, x_min,
            y_max, x_max)`` in input-image pixels.
        roi_indices (cupy.ndarray): ``(R,)`` int32 image of each RoI.
        x_shape (tuple): ``(N, C, H, W)`` of the forward's input.
        outh (int): bins per RoI vertically.
        outw (int): bins per RoI horizontally.
        spatial_scale (float): the forward's scale.
        sampling (tuple): the forward's ``(sampling_h, sampling_w)``.
        aligned (bool): the forward's ``aligned``.

    Returns:
        cupy.ndarray: ``(N, C, H, W)`` gradient, dtype of ``gy``.
    """
    import cupy
    gy = cupy.ascontiguousarray(gy)
    rois = cupy.ascontiguousarray(rois)
    roi_indices = cupy.ascontiguousarray(roi_indices)
    n, c, height, width = x_shape
    gx = cupy.empty(x_shape, dtype=gy.dtype)
    if gx.size:
        _cupy_kernel('backward')(
            gy, rois, roi_indices, len(rois), c, height, width, outh, outw,
            sampling[0], sampling[1], int(aligned),
            gy.dtype.type(spatial_scale), gx)
    return gx
