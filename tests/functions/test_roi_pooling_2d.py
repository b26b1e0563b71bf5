"""RoI pooling FunctionNode (fasterrcnn/functions/roi_pooling_2d.py)."""

import numpy
import pytest

import chainer
from chainer import gradient_check

from fasterrcnn.functions import roi_pooling_2d as module
from fasterrcnn.functions.roi_pooling_2d import roi_pooling_2d
from tests.functions.roi_pool_reference import (
    c_round, roi_pool_backward_reference, roi_pool_reference)


def random_rois(rng, r, extent, dtype, halves=False):
    """RoIs around an ``extent = (H, W)`` image, partly outside it."""
    h, w = extent
    ys = rng.uniform(-0.2 * h, 1.2 * h, (r, 2))
    xs = rng.uniform(-0.2 * w, 1.2 * w, (r, 2))
    rois = numpy.stack([ys.min(1), xs.min(1), ys.max(1), xs.max(1)], axis=1)
    if halves:
        # corners on k + 0.5 cells, where half-to-even rounding would differ
        rois = numpy.round(rois / 8) * 8
    return rois.astype(dtype)


CASES = [
    # (N, C, H, W, outsize, spatial_scale, R, dtype, halves)
    (1, 3, 7, 9, (7, 7), 1 / 16, 12, numpy.float32, False),
    (2, 4, 10, 6, (7, 7), 1 / 16, 20, numpy.float32, True),
    (2, 2, 12, 12, (3, 5), 1 / 8, 15, numpy.float32, True),
    (3, 2, 5, 8, (2, 2), 1 / 8, 9, numpy.float64, False),
    (1, 1, 1, 1, (7, 7), 1 / 16, 4, numpy.float32, False),  # one cell
    (2, 3, 4, 4, (1, 1), 1.0, 6, numpy.float32, True),
]


@pytest.mark.parametrize('case', CASES)
def test_forward_and_backward_equal_the_reference(case):
    n, c, h, w, outsize, scale, r, dtype, halves = case
    rng = numpy.random.RandomState(r)
    x = rng.randn(n, c, h, w).astype(dtype)
    rois = random_rois(rng, r, (h / scale, w / scale), dtype, halves)
    roi_indices = rng.randint(0, n, r).astype(numpy.int32)
    xv = chainer.Variable(x)
    y = roi_pooling_2d(xv, rois, roi_indices, outsize, scale)
    ref_y, ref_argmax = roi_pool_reference(
        x, rois, roi_indices, outsize[0], outsize[1], scale)
    assert y.shape == (r, c) + outsize and y.dtype == dtype
    numpy.testing.assert_array_equal(y.array, ref_y)
    gy = rng.randn(*y.shape).astype(dtype)
    y.grad = gy
    y.backward()
    numpy.testing.assert_array_equal(
        xv.grad, roi_pool_backward_reference(gy, ref_argmax, roi_indices,
                                             x.shape))


def test_corner_rounding_is_half_away_from_zero():
    assert [c_round(v) for v in (0.5, 1.5, 2.5, -0.5, -1.5)] == \
        [1, 2, 3, -1, -2]
    got = module._round_half_away(
        numpy.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997, 3.2],
                    dtype=numpy.float32), numpy)
    numpy.testing.assert_array_equal(got, [1, 2, 3, -1, -3, 0, 3])
    # A RoI from pixel 8 to 40 at 1/16 spans cells 0.5 .. 2.5 -> 1 .. 3
    # (half to even would give 0 .. 2).
    x = numpy.arange(16, dtype=numpy.float32).reshape(1, 1, 4, 4)
    rois = numpy.array([[8, 8, 40, 40]], dtype=numpy.float32)
    y = roi_pooling_2d(x, rois, numpy.zeros(1, numpy.int32), 1, 1 / 16)
    assert y.array.item() == 15.0   # the max of cells 1..3 x 1..3


def test_ties_nan_and_empty_bins():
    x = numpy.zeros((1, 2, 4, 4), dtype=numpy.float32)
    x[0, 0] = 1.0                     # all equal: first cell wins
    x[0, 1] = numpy.nan               # NaN is passed over
    x[0, 1, 3, 3] = -2.0
    rois = numpy.array([[0, 0, 63, 63],            # whole map
                        [200, 200, 300, 300]],     # wholly outside: empty
                       dtype=numpy.float32)
    fn = module.RoIPooling2D(2, 2, 1 / 16)
    y, = fn.apply((x, rois, numpy.zeros(2, numpy.int32)))
    ref_y, ref_argmax = roi_pool_reference(
        x, rois, numpy.zeros(2, numpy.int32), 2, 2, 1 / 16)
    numpy.testing.assert_array_equal(y.array, ref_y)
    numpy.testing.assert_array_equal(fn.argmax.transpose(0, 3, 1, 2),
                                     ref_argmax)
    assert (y.array[1] == 0).all()                   # empty bins give 0
    assert (fn.argmax[1] == -1).all()
    numpy.testing.assert_array_equal(y.array[0, 0], 1.0)
    numpy.testing.assert_array_equal(fn.argmax[0, :, :, 0], [[0, 2], [8, 10]])
    lowest = numpy.finfo(numpy.float32).min
    numpy.testing.assert_array_equal(y.array[0, 1],
                                     [[lowest, lowest], [lowest, -2.0]])


def test_no_rois():
    x = numpy.ones((1, 3, 4, 4), dtype=numpy.float32)
    xv = chainer.Variable(x)
    y = roi_pooling_2d(xv, numpy.zeros((0, 4), numpy.float32),
                       numpy.zeros(0, numpy.int32), 7, 1 / 16)
    assert y.shape == (0, 3, 7, 7)
    chainer.functions.sum(y).backward()
    numpy.testing.assert_array_equal(xv.grad, 0)


def test_type_errors():
    x = numpy.ones((1, 3, 4, 4), dtype=numpy.float32)
    with pytest.raises(chainer.utils.type_check.InvalidType):
        roi_pooling_2d(x, numpy.zeros((2, 5), numpy.float32),
                       numpy.zeros(2, numpy.int32), 7, 1 / 16)
    with pytest.raises(chainer.utils.type_check.InvalidType):
        roi_pooling_2d(x, numpy.zeros((2, 4), numpy.float32),
                       numpy.zeros(2, numpy.int64), 7, 1 / 16)
    with pytest.raises(ValueError, match='outsize'):
        roi_pooling_2d(x, numpy.zeros((2, 4), numpy.float32),
                       numpy.zeros(2, numpy.int32), 0, 1 / 16)


def distinct_input(rng, shape):
    """Values far apart, so the arg-max does not move under the finite
    difference of check_backward."""
    x = rng.permutation(numpy.prod(shape)).reshape(shape).astype(numpy.float64)
    return x * 0.1


@pytest.mark.parametrize('scale,halves', [(1 / 16, False), (1 / 8, True)])
def test_check_backward_float64(scale, halves):
    rng = numpy.random.RandomState(0)
    x = distinct_input(rng, (2, 3, 6, 5))
    rois = random_rois(rng, 7, (6 / scale, 5 / scale), numpy.float64, halves)
    roi_indices = rng.randint(0, 2, 7).astype(numpy.int32)
    gy = rng.randn(7, 3, 3, 2)

    def f(x):
        return roi_pooling_2d(x, rois, roi_indices, (3, 2), scale)

    gradient_check.check_backward(f, x, gy, eps=1e-3, atol=1e-6, rtol=1e-6,
                                  dtype=numpy.float64)


def test_check_double_backward_float64():
    rng = numpy.random.RandomState(1)
    x = distinct_input(rng, (1, 2, 5, 5))
    rois = random_rois(rng, 4, (80, 80), numpy.float64)
    roi_indices = numpy.zeros(4, numpy.int32)
    gy = rng.randn(4, 2, 2, 2)
    ggx = rng.randn(*x.shape)

    def f(x):
        return roi_pooling_2d(x, rois, roi_indices, 2, 1 / 16)

    gradient_check.check_double_backward(f, x, gy, ggx, eps=1e-3,
                                         atol=1e-6, rtol=1e-6,
                                         dtype=numpy.float64)


@pytest.mark.gpu
@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
def test_cupy_kernels_match_numpy_twin_bit_for_bit(dtype):
    import cupy
    rng = numpy.random.RandomState(5)
    x = rng.randn(2, 64, 38, 50).astype(dtype)
    x[0, :, :4] = numpy.round(x[0, :, :4])          # ties
    rois = random_rois(rng, 128, (608, 800), dtype, halves=True)
    roi_indices = rng.randint(0, 2, 128).astype(numpy.int32)
    gy = rng.randn(128, 64, 7, 7).astype(dtype)
    outs = []
    for xp in (numpy, cupy):
        xv = chainer.Variable(xp.asarray(x))
        y = roi_pooling_2d(xv, xp.asarray(rois), xp.asarray(roi_indices), 7,
                           1 / 16)
        y.grad = xp.asarray(gy)
        y.backward()
        outs.append((chainer.backends.cuda.to_cpu(y.array),
                     chainer.backends.cuda.to_cpu(xv.grad)))
    numpy.testing.assert_array_equal(outs[0][0], outs[1][0])
    numpy.testing.assert_array_equal(outs[0][1], outs[1][1])


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
    assert 100 * 49 * 64 >= module._PARALLEL_MIN_SIZE
    results = []
    for minimum in (module._PARALLEL_MIN_SIZE, 1 << 62):
        monkeypatch.setattr(module, '_PARALLEL_MIN_SIZE', minimum)
        results.append(module._forward_numpy(x, rois, roi_indices, 7, 7,
                                             1 / 16))
    numpy.testing.assert_array_equal(results[0][0], results[1][0])
    numpy.testing.assert_array_equal(results[0][1], results[1][1])
    # and one RoI against the plain reference
    ref_y, ref_argmax = roi_pool_reference(x, rois[:3], roi_indices[:3], 7,
                                           7, 1 / 16)
    numpy.testing.assert_array_equal(results[0][0][:3], ref_y)
    numpy.testing.assert_array_equal(
        results[0][1][:3].transpose(0, 3, 1, 2), ref_argmax)
    assert (results[0][1] == -1).any() == outside


def test_workspace_release():
    x = numpy.ones((1, 2, 4, 4), dtype=numpy.float32)
    roi_pooling_2d(x, numpy.array([[0, 0, 30, 30]], numpy.float32),
                   numpy.zeros(1, numpy.int32), 2, 1 / 8)
    assert module._workspace._buffers
    module.release_workspace()
    assert not module._workspace._buffers
