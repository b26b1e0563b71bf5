"""Max pooling over non-overlapping windows (functions/pooling.py):
Chainer's values and arg-max rule (first maximum, NaN wins), gradients in
float64, everything else handed to Chainer."""

import chainer
import chainer.functions as F
import numpy
import pytest
from chainer import gradient_check

from fasterrcnn import cpu_threads
from fasterrcnn.functions import pooling
from fasterrcnn.functions.pooling import MaxPooling2D, max_pooling_2d

CASES = [((2, 3, 6, 8), 2, False), ((1, 2, 5, 7), 2, False),
         ((1, 2, 5, 7), 2, True), ((1, 1, 1, 1), 2, True),
         ((1, 2, 6, 6), 3, True),
         ((2, 2, 4, 6), (2, 3), False)]


def _pair_results(x, k, cover_all):
    ours, theirs = chainer.Variable(x.copy()), chainer.Variable(x.copy())
    y = max_pooling_2d(ours, k, cover_all=cover_all)
    ref = F.max_pooling_2d(theirs, k, cover_all=cover_all)
    assert isinstance(y.creator, MaxPooling2D)
    gy = numpy.random.RandomState(3).uniform(-1, 1, ref.shape).astype(
        x.dtype)
    y.grad, ref.grad = gy, gy.copy()
    if y.size:
        y.backward()
        ref.backward()
    return y, ref, ours.grad, theirs.grad


@pytest.mark.parametrize('shape,k,cover_all', CASES)
def test_values_and_gradients_equal_chainers(shape, k, cover_all):
    x = numpy.random.RandomState(0).randn(*shape).astype(numpy.float32)
    # ties inside windows (ReLU zeros): the first cell gets the gradient
    x[..., :1, :] = numpy.maximum(x[..., :1, :], 0)
    x.reshape(-1)[:4] = 0.5
    y, ref, g, g_ref = _pair_results(x, k, cover_all)
    assert y.shape == ref.shape
    numpy.testing.assert_array_equal(y.array, ref.array)
    if y.size:
        numpy.testing.assert_array_equal(g, g_ref)


@pytest.mark.parametrize('cores', [2, 3])
def test_split_over_the_cores_the_same_bits(monkeypatch, cores):
    # Every call split into slices of the channels (a part of any size),
    # with ties, NaN and -0.0: the output, the gradient and the gradient's
    # gradient are those of one part.
    x = numpy.random.RandomState(1).randn(2, 5, 7, 9).astype(numpy.float32)
    x[:, 1, :2] = 0.
    x[0, 2, 3, 3] = numpy.nan
    x[1, 4, 0, :4] = -0.
    gy = numpy.random.RandomState(2).randn(2, 5, 4, 5).astype(
        numpy.float32)

    def run():
        v, g = chainer.Variable(x.copy()), chainer.Variable(gy.copy())
        y = max_pooling_2d(v, 2)
        gx, = chainer.grad([y], [v], grad_outputs=[g],
                           enable_double_backprop=True)
        ggy, = chainer.grad([gx], [g], grad_outputs=[numpy.ones_like(x)])
        return [a.array.tobytes() for a in (y, gx, ggy)]
    one = run()
    monkeypatch.setattr(pooling, 'PARALLEL_BYTES', 1)
    monkeypatch.setattr(cpu_threads, 'cpu_threads', lambda: cores)
    assert run() == one


# inf * False is NaN, on whichever thread computes it.
@pytest.mark.filterwarnings('ignore:invalid value:RuntimeWarning')
@pytest.mark.parametrize('shape,k,cover_all', CASES + [
    ((1, 2, 4, 4), 1, False)])
@pytest.mark.parametrize('cores', [1, 2, 3])
def test_training_backward_has_the_graphs_bits(monkeypatch, shape, k,
                                               cover_all, cores):
    # A training step's backward (no double backprop) computes gx on the
    # arrays; the graph's MaxPooling2DGrad of the arg-max index gives the
    # same bits: ties, NaN, inf, -0.0 and gradients of every sign (a
    # negative gradient times False is -0.0), on 1 to 3 parts.
    rng = numpy.random.RandomState(4)
    x = rng.randn(*shape).astype(numpy.float32)
    x[..., :1, :] = numpy.maximum(x[..., :1, :], 0)
    flat = x.reshape(-1)
    if flat.size > 8:
        flat[1:3] = numpy.nan
        flat[5] = -0.
        flat[-1] = numpy.inf
    y = max_pooling_2d(chainer.Variable(x), k, cover_all=cover_all)
    if not y.size:
        return
    gy = rng.randn(*y.shape).astype(numpy.float32)
    gy.reshape(-1)[-2:] = [numpy.inf, -0.][-gy.size:]
    monkeypatch.setattr(pooling, 'PARALLEL_BYTES', 1)
    monkeypatch.setattr(cpu_threads, 'cpu_threads', lambda: cores)

    def gx(double):
        v = chainer.Variable(x.copy())
        out = max_pooling_2d(v, k, cover_all=cover_all)
        g, = chainer.grad([out], [v], grad_outputs=[chainer.Variable(gy)],
                          enable_double_backprop=double)
        assert (g.creator is not None) == double
        return g.array.tobytes()
    assert gx(False) == gx(True)


def test_nan_is_the_maximum_and_gets_the_gradient():
    x = numpy.zeros((1, 1, 2, 4), numpy.float32)
    x[0, 0, 1, 0] = x[0, 0, 0, 3] = x[0, 0, 1, 3] = numpy.nan
    x[0, 0, 0, 2] = numpy.inf
    y, ref, g, g_ref = _pair_results(x, 2, False)
    numpy.testing.assert_array_equal(y.array, ref.array)
    numpy.testing.assert_array_equal(g, g_ref)


@pytest.mark.parametrize('shape,k,cover_all', CASES)
def test_check_backward_float64(shape, k, cover_all):
    rng = numpy.random.RandomState(1)
    # distinct values: the arg-max does not move under the probe steps
    x = rng.permutation(int(numpy.prod(shape))).reshape(shape).astype(
        numpy.float64)
    y = max_pooling_2d(x, k, cover_all=cover_all)
    if not y.size:
        return

    def f(x):
        return max_pooling_2d(x, k, cover_all=cover_all)
    gy = rng.uniform(-1, 1, y.shape)
    gradient_check.check_backward(f, x, gy, dtype=numpy.float64)
    gradient_check.check_double_backward(f, x, gy, rng.uniform(-1, 1, shape),
                                         dtype=numpy.float64)


def test_input_smaller_than_the_window_is_refused():
    x = numpy.ones((1, 1, 1, 3), numpy.float32)
    with pytest.raises(ValueError, match='1x3 input has no whole 2x2'):
        max_pooling_2d(x, 2, cover_all=False)
    with pytest.raises(AssertionError):   # Chainer's own
        F.max_pooling_2d(x, 2, cover_all=False)
    assert max_pooling_2d(x, 2, cover_all=True).shape == (1, 1, 1, 2)


@pytest.mark.parametrize('kwargs', [{'stride': 1}, {'pad': 1},
                                    {'return_indices': True}])
def test_other_cases_go_to_chainer(kwargs):
    x = numpy.random.RandomState(0).randn(1, 2, 6, 6).astype(numpy.float32)
    y = max_pooling_2d(x, 2, **kwargs)
    ref = F.max_pooling_2d(x, 2, **kwargs)
    if kwargs.get('return_indices'):
        y, ref = y[0], ref[0]
    assert not isinstance(y.creator, MaxPooling2D)
    numpy.testing.assert_array_equal(y.array, ref.array)


def test_switched_off_by_config():
    x = numpy.ones((1, 1, 4, 4), numpy.float32)
    with chainer.using_config('fasterrcnn_cpu_kernels', False):
        assert not isinstance(max_pooling_2d(x, 2).creator, MaxPooling2D)


@pytest.mark.gpu
def test_gpu_arrays_go_to_chainer():
    import cupy
    x = numpy.random.RandomState(0).randn(1, 2, 6, 6).astype(numpy.float32)
    y = max_pooling_2d(cupy.asarray(x), 2, cover_all=False)
    assert not isinstance(y.creator, MaxPooling2D)
    numpy.testing.assert_array_equal(
        cupy.asnumpy(y.array), max_pooling_2d(x, 2, cover_all=False).array)
