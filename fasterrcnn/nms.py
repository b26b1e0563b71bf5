"""Non-maximum suppression: a vectorised NumPy twin and a CuPy bitmask kernel.

Both follow ``torchvision.ops.nms``, which the PyTorch version calls: boxes
are taken in order of decreasing score, and a box is suppressed when its IoU
with an already kept box is *greater* than the threshold. IoU is computed in
the boxes' dtype as ``inter / (area_i + area_j - inter)``, the expression and
the order of operations of torchvision's kernel, so that the two keep the same
boxes even where an IoU lies within float rounding of the threshold.

``inclusive=True`` is chainercv's rule instead (``fasterrcnn.chainercv``): a
box is suppressed when its IoU is *greater than or equal to* the threshold
taken in the boxes' dtype (rounded to nearest, as chainercv's NumPy
comparison and its float kernel do). Nothing else changes.
"""

import numpy

from fasterrcnn.backend import get_array_module
from fasterrcnn.cpu_threads import cpu_threads, run_slices

#: Boxes resolved together by the NumPy twin: the IoU of a block against
#: itself is one ``(B, B)`` matrix. 256 was the fastest of 64..1024 for
#: 12000 boxes on 2 cores (bench/ops.py), and again of 128..384 with the
#: matrix on both cores (2026-12-06).
_BLOCK = 256

#: Pairs of boxes below which an overlap matrix is computed on the calling
#: thread: handing a part to the pool costs about 0.1 ms.
_PARALLEL_PAIRS = 32768


def _threshold_below(thresh, dtype):
    """The largest ``dtype`` value ``t`` with ``t <= thresh``.

    For an IoU ``v`` of that dtype, ``v > t`` holds exactly when ``v >
    thresh`` does in exact arithmetic (torchvision compares a float IoU with
    a double threshold). Comparing with ``dtype(thresh)`` instead would be
    wrong where ``thresh`` rounds up, e.g. 0.3 in float32.
    """
    t = numpy.asarray(thresh, dtype=dtype)
    if float(t) > thresh:
        t = numpy.nextafter(t, dtype.type(-numpy.inf))
    return dtype.type(t)


def _threshold(thresh, dtype, inclusive):
    """The threshold in ``dtype`` that the IoU is compared with."""
    if inclusive:
        return dtype.type(thresh)
    return _threshold_below(thresh, dtype)


def _overlaps(iou, t, inclusive, out=None):
    """Where ``iou`` suppresses: ``iou >= t`` (inclusive) or ``iou > t``
    (into ``out`` when given)."""
    return (numpy.greater_equal if inclusive else numpy.greater)(
        iou, t, out=out)


def descending_order(score):
    """Indices that sort ``score`` from highest to lowest.

    Stable: among equal scores the earlier entry comes first (NumPy's
    ``kind='stable'``; CuPy's argsort is always stable). NaN goes last.

    Args:
        score (array): ``(R,)`` float scores, NumPy or CuPy.
    """
    xp = get_array_module(score)
    if xp is numpy:
        return numpy.argsort(-score, kind='stable')
    return xp.argsort(-score)


def _order(score, n, xp):
    return xp.arange(n) if score is None else descending_order(score)


def _overlap_rows(bbox, area, columns, column_area, t, inclusive, out):
    """``out[i, j]``: box ``i`` of ``bbox`` suppresses box ``j`` of the
    columns, IoU in torchvision's expression and order of operations.

    Args:
        bbox (numpy.ndarray): ``(P, 4)`` boxes ``(y_min, x_min, y_max,
            x_max)``.
        area (numpy.ndarray): ``(P,)`` their areas.
        columns (numpy.ndarray): ``(4, Q)`` the other boxes, one row per
            coordinate (so that the broadcast passes read them
            contiguously: 10-18 % faster than ``(Q, 4)``, bench/ops.py).
        column_area (numpy.ndarray): ``(Q,)`` their areas.
        t: the threshold in the boxes' dtype (:func:`_threshold`).
        out (numpy.ndarray): ``(P, Q)`` bool, written.
    """
    y0, x0, y1, x1 = columns
    h = numpy.minimum(bbox[:, 2:3], y1)
    h -= numpy.maximum(bbox[:, 0:1], y0)
    w = numpy.minimum(bbox[:, 3:4], x1)
    w -= numpy.maximum(bbox[:, 1:2], x0)
    zero = bbox.dtype.type(0)
    numpy.maximum(h, zero, out=h)
    numpy.maximum(w, zero, out=w)
    inter = numpy.multiply(h, w, out=h)
    union = numpy.add(area[:, None], column_area, out=w)
    union -= inter
    with numpy.errstate(invalid='ignore', divide='ignore'):
        # 0 / 0 (two empty boxes) gives NaN, which suppresses nothing, as in
        # torchvision.
        iou = numpy.divide(inter, union, out=inter)
    _overlaps(iou, t, inclusive, out=out)


def _overlap_matrix(bbox, area, columns, column_area, t, inclusive):
    """:func:`_overlap_rows` of all of ``bbox`` (``(P, 4)``) against the
    columns, its rows split over the cores when the matrix is large: every
    value is computed the same way whatever the split."""
    out = numpy.empty((len(bbox), column_area.shape[0]), dtype=bool)

    def work(start, stop):
        _overlap_rows(bbox[start:stop], area[start:stop], columns,
                      column_area, t, inclusive, out[start:stop])

    parts = cpu_threads() if out.size >= _PARALLEL_PAIRS else 1
    run_slices(work, len(bbox), parts, here=True)
    return out


def _nms_numpy(bbox, thresh, limit, inclusive=False):
    """Greedy NMS on boxes already in score order; returns kept positions.

    The boxes are resolved in blocks of :data:`_BLOCK`: a block is first
    cleared of the boxes that overlap a box kept in an earlier block, then
    resolved within itself; both from one matrix of the kept boxes and the
    block's own against the block, computed on every core. Within a block,
    "kept" is the fixed point of ``keep[i] = not any(keep[j] and over[j, i],
    j < i)``, reached by iterating from all-kept; the iteration is exact and
    ends after at most as many rounds as the longest chain of suppressions,
    usually a few.
    """
    n = len(bbox)
    area = (bbox[:, 2] - bbox[:, 0]) * (bbox[:, 3] - bbox[:, 1])
    t = _threshold(thresh, bbox.dtype, inclusive)
    # rows[:n_kept]: the boxes kept so far; the block under way after them.
    rows = numpy.empty_like(bbox)
    rows_area = numpy.empty_like(area)
    n_kept = 0
    kept = []
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        size = stop - start
        rows[n_kept:n_kept + size] = bbox[start:stop]
        rows_area[n_kept:n_kept + size] = area[start:stop]
        over = _overlap_matrix(
            rows[:n_kept + size], rows_area[:n_kept + size],
            numpy.ascontiguousarray(bbox[start:stop].T), area[start:stop],
            t, inclusive)
        alive = ~over[:n_kept].any(axis=0)
        # over[j, i]: box j of the block (before i) would suppress box i.
        over = numpy.triu(over[n_kept:], k=1) & alive[:, None]
        keep = alive.copy()
        while True:
            new = alive & ~(over & keep[:, None]).any(axis=0)
            if numpy.array_equal(new, keep):
                break
            keep = new
        index = numpy.flatnonzero(keep) + start
        kept.append(index)
        rows[n_kept:n_kept + len(index)] = bbox[index]
        rows_area[n_kept:n_kept + len(index)] = area[index]
        n_kept += len(index)
        if limit is not None and n_kept >= limit:
            break
    kept = numpy.concatenate(kept) if kept else numpy.zeros(0, numpy.int64)
    if limit is not None:
        kept = kept[:limit]
    return kept


# One thread per (box i, block of 64 boxes): bit k of mask[i, b] says that
# box 64 * b + k comes after box i and overlaps it by more than the threshold
# (or by at least the threshold, with inclusive).
_MASK_SOURCE = r'''
    const int n_blocks = (n + 63) / 64;
    const int row = i / n_blocks;
    const int blk = i % n_blocks;
    const T* a = &bbox[4 * row];
    const T area_a = (a[2] - a[0]) * (a[3] - a[1]);
    unsigned long long bits = 0;
    const int first = blk * 64;
    for (int k = 0; k < 64; k++) {
        const int j = first + k;
        if (j >= n) break;
        if (j <= row) continue;
        const T* b = &bbox[4 * j];
        const T area_b = (b[2] - b[0]) * (b[3] - b[1]);
        const T h = max((T)0, min(a[2], b[2]) - max(a[0], b[0]));
        const T w = max((T)0, min(a[3], b[3]) - max(a[1], b[1]));
        const T inter = h * w;
        const T iou = inter / (area_a + area_b - inter);
        if (inclusive ? iou >= thresh : iou > thresh) bits |= 1ULL << k;
    }
    mask = bits;
'''

#: (input parameters, output parameters, body) of the mask kernel.
_MASK_KERNEL = ('raw T bbox, int32 n, T thresh, bool inclusive',
                'uint64 mask', _MASK_SOURCE)

# The greedy pass over the mask, on the GPU: one block of threads walks the
# boxes in order; each kept box ORs its row into the shared "removed" bits,
# the threads sharing the row's 64-bit words. No copy to the host.
_REDUCE_SOURCE = r'''
extern "C" __global__ void fasterrcnn_nms_reduce(
        const unsigned long long* mask, const int n, const int limit,
        int* keep, int* n_keep) {
    extern __shared__ unsigned long long removed[];
    const int n_blocks = (n + 63) / 64;
    for (int b = threadIdx.x; b < n_blocks; b += blockDim.x) removed[b] = 0;
    __syncthreads();
    int count = 0;
    for (int i = 0; i < n; i++) {
        const bool alive = !(removed[i / 64] & (1ULL << (i % 64)));
        if (alive) {
            if (threadIdx.x == 0) keep[count] = i;
            count++;
            if (count >= limit) break;
            const unsigned long long* row = mask + (long long)i * n_blocks;
            for (int b = threadIdx.x; b < n_blocks; b += blockDim.x)
                removed[b] |= row[b];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) *n_keep = count;
}
'''


def _cupy_kernels():
    """The two kernels, compiled on first use (cupy caches them)."""
    import cupy
    mask = cupy.ElementwiseKernel(*_MASK_KERNEL, name='fasterrcnn_nms_mask')
    reduce = cupy.RawKernel(_REDUCE_SOURCE, 'fasterrcnn_nms_reduce')
    return mask, reduce


def _nms_cupy(bbox, thresh, limit, inclusive=False):
    """GPU twin of :func:`_nms_numpy` (same arguments, CuPy arrays)."""
    import cupy
    mask_kernel, reduce_kernel = _cupy_kernels()
    n = len(bbox)
    n_blocks = (n + 63) // 64
    t = _threshold(thresh, bbox.dtype, inclusive)
    mask = cupy.empty((n, n_blocks), dtype=numpy.uint64)
    mask_kernel(bbox, numpy.int32(n), t, numpy.bool_(inclusive), mask)
    keep = cupy.empty((n,), dtype=numpy.int32)
    n_keep = cupy.empty((1,), dtype=numpy.int32)
    limit = n if limit is None else min(limit, n)
    reduce_kernel((1,), (256,), (mask, numpy.int32(n), numpy.int32(limit),
                                 keep, n_keep),
                  shared_mem=8 * n_blocks)
    return keep[:int(n_keep.get()[0])]


def non_maximum_suppression(bbox, thresh, score=None, limit=None,
                            inclusive=False):
    """Indices of the boxes that survive greedy NMS, highest score first.

    Args:
        bbox (array): ``(R, 4)`` float32 (or float64) boxes, ``(y_min, x_min,
            y_max, x_max)``; NumPy or CuPy (then the work stays on the GPU).
            Integer boxes are taken as float64.
        thresh (float): a box is suppressed when its IoU with a kept box is
            greater than this.
        score (array or None): ``(R,)`` scores; boxes are taken in order of
            decreasing score (the earlier box first among ties). ``None``
            takes them in the given order.
        limit (int or None): keep at most this many.
        inclusive (bool): suppress at an IoU equal to the threshold too
            (chainercv's rule); False follows torchvision.

    Returns:
        array: ``(K,)`` int32 indices into ``bbox``, in the order in which the
        boxes were kept, on the same device as ``bbox``.
    """
    xp = get_array_module(bbox)
    if bbox.ndim != 2 or bbox.shape[1] != 4:
        raise ValueError('bbox must have shape (R, 4), got {}'.format(
            bbox.shape))
    if score is not None and score.shape != (len(bbox),):
        raise ValueError('score must have shape ({},), got {}'.format(
            len(bbox), score.shape))
    if len(bbox) == 0 or limit == 0:
        return xp.zeros((0,), dtype=numpy.int32)
    if bbox.dtype.kind not in 'f':
        # IoU and the threshold are fractions: in an integer dtype the
        # threshold would round to 0 and every overlap would suppress.
        bbox = bbox.astype(numpy.float64)
    order = _order(score, len(bbox), xp)
    sorted_bbox = xp.ascontiguousarray(bbox[order])
    if xp is numpy:
        kept = _nms_numpy(sorted_bbox, thresh, limit, inclusive)
    else:
        kept = _nms_cupy(sorted_bbox, thresh, limit, inclusive)
    return order[kept].astype(numpy.int32)
