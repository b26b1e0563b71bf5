"""The convolution FunctionNodes (functions/convolution/__init__.py):
Chainer's results to float rounding, gradients checked in float64, every
unsupported case handed to Chainer."""

import chainer
import chainer.functions as F
import numpy
import pytest
from chainer import gradient_check

import fasterrcnn.functions.convolution as conv_module
from fasterrcnn import cpu_threads
from fasterrcnn.functions.convolution import (Convolution2D, convolution_2d,
                                              numpy_impl, supported)

#: (N, C, H, W), C_out, kernel, stride, pad: square and not, strides 1-3,
#: padding 0 to k - 1, images no larger than the kernel, a 1 x 1 kernel.
CASES = [
    ((2, 3, 7, 9), 4, 3, 1, 1),
    ((1, 5, 8, 6), 3, 3, 2, 1),
    ((2, 4, 9, 7), 3, 3, 2, 0),
    ((2, 3, 5, 5), 2, 1, 1, 0),
    ((1, 3, 6, 7), 2, 2, 3, 1),
    ((1, 2, 4, 5), 3, (3, 2), (1, 2), (2, 1)),
    ((1, 2, 1, 1), 3, 3, 1, 1),      # one pixel: only padding around it
    ((1, 2, 3, 3), 2, 3, 1, 0),      # image the size of the kernel
    ((3, 1, 2, 2), 2, 3, 2, 2),
    ((2, 2, 6, 5), 9, 3, 1, 1),      # few input channels: gx by col2im
    ((1, 1, 7, 6), 4, 3, 2, 1),
]


def _inputs(case, dtype, seed=0):
    shape, c_out, k, _, _ = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = numpy.random.RandomState(seed)
    x = rng.uniform(-1, 1, shape).astype(dtype)
    W = rng.uniform(-1, 1, (c_out, shape[1], kh, kw)).astype(dtype)
    b = rng.uniform(-1, 1, c_out).astype(dtype)
    return x, W, b


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
def test_forward_and_gradients_equal_chainers(case, dtype):
    x, W, b = _inputs(case, dtype)
    stride, pad = case[3], case[4]
    ours = [chainer.Variable(a.copy()) for a in (x, W, b)]
    theirs = [chainer.Variable(a.copy()) for a in (x, W, b)]
    y = convolution_2d(*ours, stride=stride, pad=pad)
    ref = F.convolution_2d(*theirs, stride=stride, pad=pad)
    assert isinstance(y.creator, Convolution2D)
    assert y.shape == ref.shape and y.dtype == dtype
    tol = {'atol': 1e-5, 'rtol': 1e-5} if dtype == numpy.float32 else \
        {'atol': 1e-12, 'rtol': 1e-12}
    numpy.testing.assert_allclose(y.array, ref.array, **tol)
    gy = numpy.random.RandomState(1).uniform(-1, 1, y.shape).astype(dtype)
    y.grad, ref.grad = gy, gy.copy()
    y.backward()
    ref.backward()
    for a, r in zip(ours, theirs):
        assert a.grad.dtype == dtype
        numpy.testing.assert_allclose(a.grad, r.grad, **tol)


@pytest.mark.parametrize('case', CASES)
def test_check_backward_float64(case):
    x, W, b = _inputs(case, numpy.float64)
    stride, pad = case[3], case[4]
    y = convolution_2d(x, W, b, stride, pad)
    rng = numpy.random.RandomState(2)
    gy = rng.uniform(-1, 1, y.shape)

    def f(x, W, b):
        return convolution_2d(x, W, b, stride, pad)
    gradient_check.check_backward(f, (x, W, b), gy, dtype=numpy.float64,
                                  atol=1e-7, rtol=1e-7)
    gradient_check.check_double_backward(
        f, (x, W, b), gy, tuple(rng.uniform(-1, 1, a.shape)
                                for a in (x, W, b)),
        dtype=numpy.float64, atol=1e-7, rtol=1e-7)


def test_without_bias_and_without_input_gradient():
    x, W, _ = _inputs(CASES[0], numpy.float32)
    frozen = chainer.Variable(x, requires_grad=False)
    weight = chainer.Variable(W)
    y = convolution_2d(frozen, weight, None, 1, 1)
    numpy.testing.assert_allclose(
        y.array, F.convolution_2d(x, W, None, 1, 1).array, atol=1e-5)
    y.grad = numpy.ones(y.shape, numpy.float32)
    y.backward()
    assert frozen.grad is None and weight.grad is not None


def test_nonfinite_input_spreads_as_in_chainer():
    x, W, b = _inputs(CASES[0], numpy.float32)
    x[0, 1, 3, 4] = numpy.inf
    x[1, 0, 0, 0] = numpy.nan
    # (Winograd's tiles spread it further: test_winograd.py.)
    with chainer.using_config('fasterrcnn_winograd', 'never'):
        y = convolution_2d(x, W, b, 1, 1).array
    ref = F.convolution_2d(x, W, b, 1, 1).array
    numpy.testing.assert_array_equal(numpy.isfinite(y), numpy.isfinite(ref))
    finite = numpy.isfinite(ref)
    numpy.testing.assert_allclose(y[finite], ref[finite], atol=1e-5)


def test_empty_batch():
    x, W, b = _inputs(CASES[0], numpy.float32)
    y = convolution_2d(x[:0], W, b, 1, 1)
    assert y.shape == (0, 4, 7, 9)


@pytest.mark.parametrize('kwargs', [
    {'dilate': 2}, {'groups': 3}, {'cover_all': True}, {'pad': 3},
])
def test_other_cases_go_to_chainer(kwargs):
    x, W, b = _inputs(((1, 3, 8, 8), 3, 3, 1, 1), numpy.float32)
    if 'groups' in kwargs:
        W = W[:, :1]
    args = dict({'stride': 1, 'pad': 1}, **kwargs)
    assert not supported(x, W, **args)
    y = convolution_2d(x, W, b, **args)
    assert not isinstance(y.creator, Convolution2D)
    numpy.testing.assert_array_equal(
        y.array, F.convolution_2d(x, W, b, **args).array)


def test_half_precision_and_mixed_dtypes_go_to_chainer():
    x, W, b = _inputs(CASES[0], numpy.float16)
    assert not supported(x, W)
    y = convolution_2d(x, W, b, 1, 1)
    assert not isinstance(y.creator, Convolution2D)
    with pytest.raises(Exception):   # Chainer's own type check
        convolution_2d(x.astype(numpy.float32), W.astype(numpy.float32),
                       b.astype(numpy.float64), 1, 1)


def test_switched_off_by_config():
    x, W, b = _inputs(CASES[0], numpy.float32)
    with chainer.using_config('fasterrcnn_cpu_kernels', False):
        y = convolution_2d(x, W, b, 1, 1)
    assert not isinstance(y.creator, Convolution2D)
    assert isinstance(convolution_2d(x, W, b, 1, 1).creator, Convolution2D)


@pytest.mark.gpu
def test_gpu_arrays_go_to_cudnn():
    import cupy
    x, W, b = _inputs(CASES[0], numpy.float32)
    y = convolution_2d(cupy.asarray(x), cupy.asarray(W), cupy.asarray(b),
                       1, 1)
    assert not isinstance(y.creator, Convolution2D)
    numpy.testing.assert_allclose(cupy.asnumpy(y.array),
                                  convolution_2d(x, W, b, 1, 1).array,
                                  atol=1e-4)


@pytest.mark.parametrize('winograd', ['never', 'always'])
@pytest.mark.parametrize('case', CASES + [((5, 3, 4, 4), 6, 1, 1, 0)])
def test_fused_relu_is_relu_of_the_convolution_bit_for_bit(case, winograd):
    # relu=True must be F.relu(convolution_2d(...)) exactly, forward and
    # every gradient: the same maximum, the same ReLUGrad2 mask, so that
    # a model's weights do not change with the fusion.
    x, W, b = _inputs(case, numpy.float32, seed=3)
    stride, pad = case[3], case[4]
    fused = [chainer.Variable(a.copy()) for a in (x, W, b)]
    apart = [chainer.Variable(a.copy()) for a in (x, W, b)]
    with chainer.using_config('fasterrcnn_winograd', winograd):
        y = convolution_2d(*fused, stride=stride, pad=pad, relu=True)
        ref = F.relu(convolution_2d(*apart, stride=stride, pad=pad))
        assert isinstance(y.creator, Convolution2D) and y.creator.relu
        assert (y.array < 0).sum() == 0
        assert y.array.tobytes() == ref.array.tobytes()
        gy = numpy.random.RandomState(4).uniform(-1, 1, y.shape).astype(
            numpy.float32)
        y.grad, ref.grad = gy, gy.copy()
        y.backward()
        ref.backward()
    for a, r in zip(fused, apart):
        assert a.grad.tobytes() == r.grad.tobytes()


def _gradient_bytes(x, W, b, case, relu, winograd, graph=False,
                    x_grad=True):
    """The bytes of the gradients of ``x``, ``W`` and ``b`` (None where
    none) of :func:`convolution_2d` with ``case``'s stride and padding,
    for the output gradient uniform(-1, 1) of seed 6."""
    stride, pad = case[3], case[4]
    xs = chainer.Variable(x.copy(), requires_grad=x_grad)
    Ws = chainer.Variable(W.copy())
    bs = None if b is None else chainer.Variable(b.copy())
    with chainer.using_config('fasterrcnn_winograd', winograd):
        y = convolution_2d(xs, Ws, bs, stride=stride, pad=pad, relu=relu)
        y.grad = numpy.random.RandomState(6).uniform(
            -1, 1, y.shape).astype(numpy.float32)
        y.backward(enable_double_backprop=graph)
    return [None if v is None or v.grad is None else v.grad.tobytes()
            for v in (xs, Ws, bs)]


@pytest.mark.parametrize('winograd', ['never', 'always'])
@pytest.mark.parametrize('relu', [False, True])
@pytest.mark.parametrize('case', CASES + [((5, 3, 4, 4), 6, 1, 1, 0)])
def test_a_backward_without_a_graph_gives_the_graphs_bits(
        monkeypatch, case, relu, winograd):
    # A training step's backward builds no graph of the gradients and
    # computes them on the arrays; with a graph (double backprop) the
    # same computations run as nodes. The bits must be the same, with
    # and without the bias, the input's gradient or the fused ReLU, on
    # every path (strides, few input channels, 1 x 1, Winograd).
    # (Side by side, the BLAS at one thread gives other bits: the test
    # below.)
    monkeypatch.setattr(conv_module, 'side_by_side_pays', lambda n: False)
    x, W, b = _inputs(case, numpy.float32, seed=5)
    calls = []
    arrays = Convolution2D._backward_arrays
    monkeypatch.setattr(Convolution2D, '_backward_arrays',
                        lambda *args: calls.append(1) or arrays(*args))
    results = [_gradient_bytes(x, W, b if bias else None, case, relu,
                               winograd, graph=graph, x_grad=x_grad)
               for graph in (False, True)
               for bias, x_grad in ((True, True), (False, False))]
    assert results[0] == results[2] and results[1] == results[3]
    assert results[0][0] is not None and results[1][0] is None
    assert len(calls) == 2      # the two runs without a graph


def _one_after_the_other(here, *elsewhere):
    # run_side_by_side's jobs on this thread in turn, each as it runs
    # there: the BLAS at one thread, its parts one after the other.
    with cpu_threads.blas_threads(1):
        return [None if job is None else cpu_threads._serially(job)()
                for job in (here,) + elsewhere]


@pytest.mark.parametrize('winograd', ['never', 'always'])
@pytest.mark.parametrize('case', [
    ((1, 8, 14, 12), 8, 3, 1, 1),    # several tiles on each side
    ((1, 2, 6, 5), 9, 3, 1, 1),      # few input channels: Chainer's gx
    ((2, 3, 7, 9), 4, 3, 2, 1)])     # a stride: Chainer's gx
def test_gradients_side_by_side_have_the_bits_of_each_alone(
        monkeypatch, case, winograd):
    # The input and weight gradients of a small layer run at once on 2
    # cores (on the calling thread and the pool): each the bits it has
    # computed alone with the BLAS at one thread, whatever ran beside it.
    monkeypatch.setattr(cpu_threads, 'cpu_threads', lambda: 2)
    monkeypatch.setattr(numpy_impl, 'TILE_BYTES', 256)
    monkeypatch.setattr(numpy_impl, 'TILE_MIN_CELLS', 16)
    x, W, b = _inputs(case, numpy.float32, seed=5)
    results = []
    calls = []
    for runner in (cpu_threads.run_side_by_side, _one_after_the_other):
        monkeypatch.setattr(
            conv_module, 'run_side_by_side',
            lambda *jobs, run=runner: calls.append(1) or run(*jobs))
        results.append(_gradient_bytes(x, W, b, case, True, winograd))
    assert len(calls) == 2 and results[0] == results[1]


@pytest.mark.parametrize('case', CASES[:4] + CASES[9:10])
def test_fused_relu_check_backward_float64(case):
    x, W, b = _inputs(case, numpy.float64, seed=5)
    stride, pad = case[3], case[4]
    # The finite differences must not cross the ReLU's kink.
    pre = convolution_2d(x, W, b, stride, pad).array
    assert numpy.abs(pre).min() > 1e-4
    rng = numpy.random.RandomState(6)
    gy = rng.uniform(-1, 1, pre.shape)

    def f(x, W, b):
        return convolution_2d(x, W, b, stride, pad, relu=True)
    gradient_check.check_backward(f, (x, W, b), gy, dtype=numpy.float64,
                                  eps=1e-6, atol=1e-7, rtol=1e-7)
    gradient_check.check_double_backward(
        f, (x, W, b), gy, tuple(rng.uniform(-1, 1, a.shape)
                                for a in (x, W, b)),
        dtype=numpy.float64, eps=1e-6, atol=1e-7, rtol=1e-7)


def test_fused_relu_off_the_tiled_path_is_chainers_relu():
    # float16 goes to Chainer's convolution: relu=True is then F.relu.
    x, W, b = (a.astype(numpy.float16)
               for a in _inputs(CASES[0], numpy.float32))
    y = convolution_2d(x, W, b, 1, 1, relu=True)
    assert y.creator.label == 'ReLU'
    ref = F.relu(F.convolution_2d(x, W, b, 1, 1))
    assert y.array.tobytes() == ref.array.tobytes()
