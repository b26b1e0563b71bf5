"""RoI pooling op and FunctionNodes (fasterrcnn/functions/roi_pooling).

Through the public ``roi_pooling_2d`` on NumPy arrays: values and gradients
against the plain-loop reference, the edge cases, the argument checks, and
the first and second derivatives by finite differences.
"""

import chainer
import numpy
import pytest
from chainer import gradient_check

from fasterrcnn.functions import roi_pooling as module
from fasterrcnn.functions.roi_pooling import roi_pooling_2d
from tests.functions.roi_pooling.roi_pool_reference import (
    random_rois, roi_pool_backward_reference, roi_pool_reference)

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
    # (R, C, outh, outw), the CUDA kernels' layout
    numpy.testing.assert_array_equal(fn.argmax, ref_argmax)
    assert (y.array[1] == 0).all()                   # empty bins give 0
    assert (fn.argmax[1] == -1).all()
    numpy.testing.assert_array_equal(y.array[0, 0], 1.0)
    numpy.testing.assert_array_equal(fn.argmax[0, 0], [[0, 2], [8, 10]])
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


def _predict_cases():
    """Each of CASES, and maps with ties, NaN, -inf, -0.0 and empty
    bins: ``(x, rois, roi_indices, outsize, scale)``."""
    for n, c, h, w, outsize, scale, r, dtype, halves in CASES:
        rng = numpy.random.RandomState(r)
        x = rng.randn(n, c, h, w).astype(dtype)
        rois = random_rois(rng, r, (h / scale, w / scale), dtype, halves)
        yield (x, rois, rng.randint(0, n, r).astype(numpy.int32), outsize,
               scale)
    for dtype in (numpy.float32, numpy.float64):
        for negative_zero in (False, True):
            rng = numpy.random.RandomState(7)
            # Small integers: many equal maxima; then the special values.
            x = rng.randint(-2, 3, (2, 5, 6, 7)).astype(dtype)
            x[0, 0, :3] = numpy.nan
            x[0, 1] = -numpy.inf
            x[1, 3] = numpy.abs(x[1, 3]) * 0.0   # zeros, none of them -0.0
            if negative_zero:
                x[1, 2, 2:4, 1:5] = -0.0
            assert numpy.signbit(x[x == 0]).any() == negative_zero
            rois = numpy.concatenate([
                random_rois(rng, 30, (6 * 16, 7 * 16), dtype, True),
                numpy.array([[200, 200, 300, 300]], dtype)])  # all empty
            yield (x, rois, rng.randint(0, 2, 31).astype(numpy.int32),
                   (3, 4), 1 / 16)


@pytest.mark.parametrize('case', list(range(len(CASES) + 4)))
def test_without_a_graph_the_values_alone_are_the_same(case):
    # predict runs with enable_backprop off: the NumPy twin then compares
    # values instead of (value, cell) keys and keeps no arg-max; y must be
    # the reference's bit for bit (a block holding -0.0 takes the keys).
    x, rois, roi_indices, outsize, scale = list(_predict_cases())[case]
    ref_y, _ = roi_pool_reference(x, rois, roi_indices, outsize[0],
                                  outsize[1], scale)
    fn = module.RoIPooling2D(outsize[0], outsize[1], scale)
    with chainer.no_backprop_mode():
        y, = fn.apply((x, rois, roi_indices))
    assert fn.argmax is None
    assert y.array.tobytes() == ref_y.astype(x.dtype).tobytes()
    with_graph, = module.RoIPooling2D(outsize[0], outsize[1], scale).apply(
        (chainer.Variable(x), rois, roi_indices))
    assert with_graph.array.tobytes() == y.array.tobytes()
