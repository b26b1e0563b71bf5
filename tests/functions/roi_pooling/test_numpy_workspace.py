"""What the NumPy RoI pooling runs on (roi_pooling/numpy_workspace.py).

The thread split must not change a result, and the scratch memory kept
between calls must be freed on request.
"""

import numpy
import pytest

from fasterrcnn.functions import roi_pooling
from fasterrcnn.functions.roi_pooling import (numpy_impl, numpy_workspace,
                                              roi_pooling_2d)
from tests.functions.roi_pooling.roi_pool_reference import (
    random_rois, roi_pool_backward_reference, roi_pool_reference)


@pytest.mark.parametrize('outside', [False, True])
def test_threaded_forward_equals_single_thread(monkeypatch, outside):
    # Large enough for the threaded path; with `outside`, some bins are empty
    # (the path that scatters through a mask).
    rng = numpy.random.RandomState(7)
    x = numpy.maximum(rng.randn(2, 64, 12, 15), 0).astype(numpy.float32)
    extent = (12 * 16, 15 * 16)
    rois = random_rois(rng, 100, extent, numpy.float32, halves=True)
    if not outside:
        # corners that round to a cell inside the map: no empty bin
        rois = numpy.clip(rois, 0, [extent[0] - 9, extent[1] - 9] * 2)
    roi_indices = rng.randint(0, 2, 100).astype(numpy.int32)
    assert 100 * 49 * 64 >= numpy_workspace._PARALLEL_MIN_SIZE
    results = []
    for minimum in (numpy_workspace._PARALLEL_MIN_SIZE, 1 << 62):
        monkeypatch.setattr(numpy_workspace, '_PARALLEL_MIN_SIZE', minimum)
        results.append(numpy_impl.forward(x, rois, roi_indices, 7, 7,
                                          1 / 16))
    numpy.testing.assert_array_equal(results[0][0], results[1][0])
    numpy.testing.assert_array_equal(results[0][1], results[1][1])
    # and one RoI against the plain reference
    ref_y, ref_argmax = roi_pool_reference(x, rois[:3], roi_indices[:3], 7,
                                           7, 1 / 16)
    numpy.testing.assert_array_equal(results[0][0][:3], ref_y)
    numpy.testing.assert_array_equal(results[0][1][:3], ref_argmax)
    assert (results[0][1] == -1).any() == outside


def test_workspace_release():
    x = numpy.ones((1, 2, 4, 4), dtype=numpy.float32)
    roi_pooling_2d(x, numpy.array([[0, 0, 30, 30]], numpy.float32),
                   numpy.zeros(1, numpy.int32), 2, 1 / 8)
    assert numpy_workspace.workspace._buffers
    roi_pooling.release_workspace()     # re-exported by the package
    assert not numpy_workspace.workspace._buffers


@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
@pytest.mark.parametrize('outside', [False, True])
def test_channel_blocks_and_chunks_change_no_result(monkeypatch, dtype,
                                                    outside):
    # Blocks of 3 channels (the last one shorter), chunks of a few bins,
    # every part on the pool: the same bits as one block, one chunk and one
    # thread, and the plain reference. Several RoIs hit the same cells, so
    # the backward's sums have several terms; -0.0, NaN and ties included.
    rng = numpy.random.RandomState(3)
    x = numpy.maximum(rng.randn(2, 10, 9, 11), 0).astype(dtype)
    x[0, 1, 2:4, 2:4] = -0.0
    x[1, 2, 5, 5] = numpy.nan
    x[0, 3] = 1
    extent = (9 * 16, 11 * 16)
    rois = random_rois(rng, 40, extent, dtype, halves=True)
    if not outside:
        rois = numpy.clip(rois, 0, [extent[0] - 9, extent[1] - 9] * 2)
    rois[:8] = rois[8:16]                   # the same bins twice
    roi_indices = rng.randint(0, 2, 40).astype(numpy.int32)
    gy = rng.randn(40, 10, 7, 7).astype(dtype)
    results = []
    for block, chunk, scatter, minimum in ((1 << 20, 1 << 30, 1 << 20,
                                            1 << 62), (3, 8 * 3 * 20, 3, 0)):
        monkeypatch.setattr(numpy_impl, '_CHANNEL_BLOCK', block)
        monkeypatch.setattr(numpy_impl, '_CHUNK_BYTES', chunk)
        monkeypatch.setattr(numpy_impl, '_SCATTER_BLOCK', scatter)
        monkeypatch.setattr(numpy_workspace, '_PARALLEL_MIN_SIZE', minimum)
        y, argmax = numpy_impl.forward(x, rois, roi_indices, 7, 7, 1 / 16)
        gx = numpy_impl.backward(gy, argmax, roi_indices, x.shape)
        results.append((y, argmax, gx))
    for one, blocked in zip(*results):
        assert one.dtype == blocked.dtype and one.shape == blocked.shape
        assert one.tobytes() == blocked.tobytes()
    ref_y, ref_argmax = roi_pool_reference(x, rois, roi_indices, 7, 7,
                                           1 / 16)
    assert results[1][0].tobytes() == ref_y.tobytes()
    numpy.testing.assert_array_equal(results[1][1], ref_argmax)
    ref_gx = roi_pool_backward_reference(gy, ref_argmax, roi_indices,
                                         x.shape)
    numpy.testing.assert_array_equal(results[1][2], ref_gx)
    # empty bins (no arg-max in any channel) only with RoIs outside the map
    assert (results[1][1] == -1).all(axis=1).any() == outside
