"""The NMS CUDA kernels (fasterrcnn/nms.py's very strings) run on the CPU,
compiled for the host (tests/support/cuda_host.py): the mask kernel over
every (box, block of 64) and the reduce kernel on a block of real threads
sharing memory and barriers, against the NumPy twin; and a changed operator
or index in the text is caught."""

import ctypes

import numpy
import pytest

from fasterrcnn import nms
from tests.support import cuda_host

pytestmark = pytest.mark.cuda_host

#: Calls the reduce kernel as _nms_cupy launches it: one block of
#: ``threads`` threads.
LAUNCHER = r'''
extern "C" int run_reduce(const unsigned long long* mask, int n, int limit,
                          int* keep, int* n_keep, int threads) {
    return fasterrcnn_run_block(threads, [&] {
        fasterrcnn_nms_reduce(mask, n, limit, keep, n_keep);
    });
}
'''


class HostNMS(object):
    """_nms_cupy's two launches, on the host, from given kernel texts."""

    def __init__(self, type_name, mask_kernel=nms._MASK_KERNEL,
                 reduce_source=nms._REDUCE_SOURCE):
        self.mask = cuda_host.ElementwiseKernel(
            *mask_kernel, type_name=type_name, name='nms_mask_' + type_name)
        self.reduce = cuda_host.raw_kernel(reduce_source, LAUNCHER,
                                           'nms_reduce').run_reduce

    def __call__(self, bbox, thresh, limit=None, inclusive=False,
                 threads=8):
        # 8 host threads make a block by default: each barrier wakes every
        # thread of the block, and 256 of them on two cores take about 3 ms
        # a box (the launch's 256 are run in test_any_block_size_...).
        n = len(bbox)
        n_blocks = (n + 63) // 64
        t = nms._threshold(thresh, bbox.dtype, inclusive)
        mask = numpy.empty((n, n_blocks), numpy.uint64)
        self.mask(bbox, n, t, inclusive, mask, size=mask.size)
        keep = numpy.empty(n, numpy.int32)
        n_keep = numpy.empty(1, numpy.int32)
        limit = n if limit is None else min(limit, n)
        if self.reduce(pointer(mask), ctypes.c_int(n), ctypes.c_int(limit),
                       pointer(keep), pointer(n_keep), ctypes.c_int(threads)):
            raise Diverged('the threads of the block diverged at a barrier')
        return keep[:n_keep[0]]


class Diverged(Exception):
    """The reduce kernel's threads did not all reach a barrier."""


def pointer(array):
    return array.ctypes.data_as(ctypes.c_void_p)


def boxes(n, dtype, seed=0, grid=False):
    """``n`` boxes in score order: random (many overlaps), or 6 x 6 boxes
    on a 2-pixel grid (IoU exactly 0.5 two pixels apart, 0.2 four apart:
    ties with the threshold, in any float)."""
    rng = numpy.random.RandomState(seed)
    if grid:
        y = rng.randint(0, 20, n) * 2
        x = rng.randint(0, 20, n) * 2
        bbox = numpy.stack([y, x, y + 6, x + 6], axis=1)
    else:
        corner = rng.uniform(0, 300, (n, 2))
        size = rng.uniform(5, 80, (n, 2))
        bbox = numpy.concatenate([corner, corner + size], axis=1)
    return bbox.astype(dtype)


@pytest.mark.parametrize('type_name, dtype', [('float32', numpy.float32),
                                              ('float64', numpy.float64)])
def test_kernels_match_the_numpy_twin(type_name, dtype):
    run = HostNMS(type_name)
    for n in (1, 2, 63, 64, 65, 130, 3000):
        for grid in (False, True):
            bbox = boxes(n, dtype, seed=n, grid=grid)
            for thresh, inclusive, limit in ((0.7, False, None),
                                             (0.5, True, None),
                                             (0.3, False, 7)):
                got = run(bbox, thresh, limit, inclusive)
                ref = nms._nms_numpy(bbox, thresh, limit, inclusive)
                numpy.testing.assert_array_equal(got, ref)
    # On the grid, boxes 2 px apart overlap by exactly 0.5: at that
    # threshold inclusive changes the result, the same in both.
    bbox = boxes(200, dtype, grid=True)
    inclusive = run(bbox, 0.5, inclusive=True)
    numpy.testing.assert_array_equal(
        inclusive, nms._nms_numpy(bbox, 0.5, None, True))
    assert len(inclusive) < len(run(bbox, 0.5))


@pytest.mark.parametrize('threads', [1, 3, 64, 256])
def test_any_block_size_gives_the_same_keep(threads):
    # 256: the block _nms_cupy launches.
    run = HostNMS('float32')
    bbox = boxes(300, numpy.float32, seed=4)
    numpy.testing.assert_array_equal(
        run(bbox, 0.5, threads=threads), nms._nms_numpy(bbox, 0.5, None))


#: Single changes to an operator or an index of the CUDA text, each of
#: which must make the comparison fail: (kernel, old, new).
MUTATIONS = [
    ('mask', 'if (j <= row) continue;', 'if (j < row) continue;'),
    ('mask', 'iou > thresh', 'iou >= thresh'),
    ('mask', 'bits |= 1ULL << k;', 'bits |= 1ULL << (k + 1);'),
    ('mask', 'const int row = i / n_blocks;', 'const int row = i % n_blocks;'),
    ('mask', 'min(a[2], b[2]) - max(a[0], b[0])',
     'min(a[2], b[2]) - max(a[1], b[1])'),
    ('reduce', 'removed[b] |= row[b];', 'removed[b] = row[b];'),
    ('reduce', '(1ULL << (i % 64))', '(1ULL << (i / 64))'),
    ('reduce', 'if (count >= limit) break;', 'if (count > limit) break;'),
]


@pytest.mark.parametrize('which, old, new', MUTATIONS)
def test_a_changed_operator_or_index_is_caught(which, old, new):
    mask_kernel, reduce_source = nms._MASK_KERNEL, nms._REDUCE_SOURCE
    if which == 'mask':
        assert old in mask_kernel[2]
        mask_kernel = mask_kernel[:2] + (mask_kernel[2].replace(old, new, 1),)
    else:
        assert old in reduce_source
        reduce_source = reduce_source.replace(old, new, 1)
    run = HostNMS('float32', mask_kernel, reduce_source)
    found = False
    for n, grid, limit in ((130, False, None), (200, True, None),
                           (300, False, 5)):
        bbox = boxes(n, numpy.float32, seed=n, grid=grid)
        ref = nms._nms_numpy(bbox, 0.5, limit)
        try:
            found |= not numpy.array_equal(run(bbox, 0.5, limit), ref)
        except Diverged:
            found = True
    assert found, 'the change {!r} -> {!r} went unnoticed'.format(old, new)
