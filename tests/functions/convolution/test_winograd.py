"""Winograd's minimal filtering (functions/convolution/winograd.py): the
same convolution and weight gradient as the im2col path on every shape
(odd, smaller than a tile, batches, one and many channels), float32 no
further from a float64 truth than the im2col path, gradients checked in
float64 through the FunctionNodes, and the rule and switch that pick it."""

import chainer
import numpy
import pytest
from chainer import gradient_check

from fasterrcnn import cpu_threads
from fasterrcnn.functions import convolution
from fasterrcnn.functions.convolution import (Convolution2D, convolution_2d,
                                              numpy_impl, winograd)

#: (N, C, H, W), C_out, pad: odd sizes, sizes below one tile (H or W < 4),
#: one pixel, one input or output channel, batches, many channels, every
#: padding a 3 x 3 kernel allows.
CASES = [
    ((2, 3, 7, 9), 4, (1, 1)),
    ((1, 1, 1, 1), 3, (1, 1)),
    ((1, 2, 3, 3), 2, (0, 0)),
    ((1, 4, 5, 2), 3, (2, 1)),
    ((2, 1, 13, 11), 6, (1, 1)),
    ((1, 6, 4, 4), 1, (0, 0)),
    ((1, 64, 20, 24), 64, (1, 1)),
    ((2, 130, 9, 7), 3, (1, 2)),
    ((1, 5, 2, 3), 7, (2, 2)),
    ((40, 3, 5, 7), 4, (1, 1)),      # whole images per band (RoIs)
]
#: The largest float32 error, over the largest value of the float64
#: truth, measured over these cases with 20 seeds (OpenBLAS default and
#: Haswell kernels, 1 and 2 threads, numpy 1 and 2): im2col 7.7e-7
#: (forward) and 5.3e-7 (gW), F(2x2) 7.1e-7 and 5.9e-7, F(4x4) 1.0e-5 and
#: 4.4e-6. Four times that, rounded up.
F32_TOLERANCE = {2: 3e-6, 4: 4e-5}
TILES = sorted(winograd.MATRICES)


def _inputs(case, dtype, seed=0):
    shape, c_out, pad = case
    rng = numpy.random.RandomState(seed)
    x = rng.uniform(-1, 1, shape).astype(dtype)
    W = rng.uniform(-1, 1, (c_out, shape[1], 3, 3)).astype(dtype)
    b = rng.uniform(-1, 1, c_out).astype(dtype)
    out = (shape[0], c_out, shape[2] + 2 * pad[0] - 2,
           shape[3] + 2 * pad[1] - 2)
    gy = rng.uniform(-1, 1, out).astype(dtype)
    return x, W, b, gy


def _im2col(x, W, b, gy, pad):
    return (numpy_impl.forward(x, W, b, (1, 1), pad, 'never'),
            numpy_impl.grad_weight(x, gy, (3, 3), (1, 1), pad, 'never'))


def _relative(value, truth):
    return numpy.abs(value - truth).max() / numpy.abs(truth).max()


@pytest.mark.parametrize('m', TILES)
def test_matrices_compute_a_one_dimensional_correlation(m):
    # A^T [(G g) (.) (B^T d)] = the m outputs of sum_k d[i + k] g[k].
    bt, g, at = (numpy.asarray(a, numpy.float64)
                 for a in winograd.MATRICES[m])
    rng = numpy.random.RandomState(0)
    d, kernel = rng.uniform(-1, 1, m + 2), rng.uniform(-1, 1, 3)
    numpy.testing.assert_allclose(
        at @ ((g @ kernel) * (bt @ d)),
        [d[i:i + 3] @ kernel for i in range(m)], rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('m', TILES)
def test_float64_equals_the_im2col_path(case, m):
    x, W, b, gy = _inputs(case, numpy.float64)
    y, gW = _im2col(x, W, b, gy, case[2])
    out = winograd.forward(x, W, b, case[2], m)
    assert out.shape == y.shape and out.dtype == numpy.float64
    numpy.testing.assert_allclose(out, y, rtol=1e-12, atol=1e-12)
    grad = winograd.grad_weight(x, gy, case[2], m)
    assert grad.shape == gW.shape and grad.dtype == numpy.float64
    numpy.testing.assert_allclose(grad, gW, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('m', TILES)
def test_float32_error_against_float64(case, m):
    x, W, b, gy = _inputs(case, numpy.float32)
    y, gW = _im2col(*(a.astype(numpy.float64) for a in (x, W, b, gy)),
                    case[2])
    out = winograd.forward(x, W, b, case[2], m)
    grad = winograd.grad_weight(x, gy, case[2], m)
    assert out.dtype == grad.dtype == numpy.float32
    assert _relative(out, y) <= F32_TOLERANCE[m]
    assert _relative(grad, gW) <= F32_TOLERANCE[m]


@pytest.mark.parametrize('band_bytes,min_tiles', [(1, 1), (2000, 3)])
def test_bands_and_threads_change_no_result(monkeypatch, band_bytes,
                                            min_tiles):
    # One tile row per band, a few: the same output and gW, whatever
    # part (of 3, more than the tile rows of some images) computes them.
    x, W, b, gy = _inputs(((2, 6, 11, 13), 5, (1, 1)), numpy.float64)
    y = winograd.forward(x, W, b, (1, 1))
    gW = winograd.grad_weight(x, gy, (1, 1))
    monkeypatch.setattr(winograd, 'BAND_BYTES', band_bytes)
    monkeypatch.setattr(winograd, 'BAND_MIN_TILES', min_tiles)
    monkeypatch.setattr(winograd, 'cpu_threads', lambda: 3)
    numpy.testing.assert_allclose(winograd.forward(x, W, b, (1, 1)), y,
                                  rtol=1e-13, atol=1e-13)
    numpy.testing.assert_allclose(winograd.grad_weight(x, gy, (1, 1)), gW,
                                  rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize('cores', [1, 2, 3])
def test_phases_are_the_padded_input_split_by_phase(monkeypatch, cores):
    # Every pad, input smaller than a tile, rows and columns past the
    # input (zeros), on one core and split by channels (a tiny part
    # size so that these small inputs split).
    monkeypatch.setattr(cpu_threads, 'cpu_threads', lambda: cores)
    rng = numpy.random.RandomState(0)
    for (n, c, h, w), pad, m in [((1, 3, 5, 7), (1, 1), 2),
                                 ((2, 4, 1, 1), (2, 2), 2),
                                 ((1, 5, 2, 3), (0, 2), 4),
                                 ((1, 7, 9, 6), (2, 1), 4),
                                 ((2, 300, 30, 31), (1, 1), 2)]:
        x = rng.uniform(-1, 1, (n, c, h, w)).astype(numpy.float32)
        x[0, 0, 0, 0] = -0.
        rows = -(-(h + 2 * pad[0] - 2) // m) + 1
        cols = -(-(w + 2 * pad[1] - 2) // m) + 1
        full = numpy.zeros((n, c, m * rows + m, m * cols + m), x.dtype)
        full[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + w] = x
        expected = full[:, :, :m * rows, :m * cols].reshape(
            n, c, rows, m, cols, m).transpose(0, 1, 3, 2, 5, 4)
        out = winograd._phases(x, pad, rows, cols, m)
        assert out.shape == expected.shape
        assert out.tobytes() == numpy.ascontiguousarray(expected).tobytes()


def test_weight_gradient_bands_within_their_bytes():
    # VGG16's 256 and 512 channels (float32, two parts): 1024 tiles; wider
    # layers fewer, never below BAND_MIN_TILES.
    for c, expected in [(256, 1024), (512, 1024), (2048, 292),
                        (1 << 20, winograd.BAND_MIN_TILES)]:
        per_tile = (2 * 4 * c + 6 * c) * 4 * 2
        tiles = winograd._grad_weight_tiles(per_tile)
        assert tiles == expected
        assert tiles == winograd.BAND_MIN_TILES or \
            tiles * per_tile <= winograd.GRAD_WEIGHT_MAX_BYTES


def test_bands_cover_every_tile_once():
    for n, th, tw, per_tile, parts in [(1, 37, 50, 1 << 15, 2),
                                       (1, 300, 400, 1 << 12, 2),
                                       (2, 5, 3, 1 << 20, 3),
                                       (128, 4, 4, 1 << 15, 2),
                                       (3, 4, 4, 1 << 15, 2),
                                       (1, 1, 1, 1, 2)]:
        bands = winograd._bands(n, th, tw, per_tile, parts)
        seen = numpy.zeros((n, th), int)
        for i0, ni, r0, rows in bands:
            assert ni == 1 or (r0, rows) == (0, th)
            assert ni * rows <= bands[0][1] * bands[0][3]
            seen[i0:i0 + ni, r0:r0 + rows] += 1
        assert (seen == 1).all()
        if 1 < len(bands) < (th if n == 1 else n):
            assert len(bands) % parts == 0     # equal work per part


def test_empty_batch_and_no_output():
    x, W, b, _ = _inputs(CASES[0], numpy.float32)
    assert winograd.forward(x[:0], W, b, (1, 1)).shape == (0, 4, 7, 9)
    gW = winograd.grad_weight(x[:0], numpy.zeros((0, 4, 7, 9), 'f'), (1, 1))
    assert gW.shape == (4, 3, 3, 3) and not gW.any()


def test_nonfinite_input_reaches_at_least_the_im2col_cells():
    # A non-finite input spreads to the whole tiles that read it (so to
    # more output cells than its 3 x 3 neighbourhood), never to fewer.
    x, W, b, _ = _inputs(CASES[0], numpy.float32)
    x[0, 1, 3, 4] = numpy.inf
    x[1, 0, 0, 0] = numpy.nan
    y = winograd.forward(x, W, b, (1, 1))
    ref = numpy_impl.forward(x, W, b, (1, 1), (1, 1), 'never')
    assert not numpy.isfinite(y[~numpy.isfinite(ref)]).any()
    finite = numpy.isfinite(y)
    numpy.testing.assert_allclose(y[finite], ref[finite], atol=1e-5)


@pytest.mark.parametrize('case', CASES[:6])
def test_check_backward_float64_through_winograd(monkeypatch, case):
    x, W, b, gy = _inputs(case, numpy.float64)
    pad = case[2]
    calls = []
    real = winograd.forward
    monkeypatch.setattr(winograd, 'forward',
                        lambda *a, **k: calls.append(1) or real(*a, **k))

    def f(x, W, b):
        return convolution_2d(x, W, b, 1, pad)
    rng = numpy.random.RandomState(2)
    with chainer.using_config('fasterrcnn_winograd', 'always'):
        gradient_check.check_backward(f, (x, W, b), gy,
                                      dtype=numpy.float64, atol=1e-7,
                                      rtol=1e-7)
        gradient_check.check_double_backward(
            f, (x, W, b), gy, tuple(rng.uniform(-1, 1, a.shape)
                                    for a in (x, W, b)),
            dtype=numpy.float64, atol=1e-7, rtol=1e-7)
    assert calls


def test_the_nodes_give_the_im2col_results():
    x, W, b, gy = _inputs(((2, 8, 9, 10), 16, (1, 1)), numpy.float64)
    grads = {}
    for mode in ('never', 'always'):
        variables = [chainer.Variable(a.copy()) for a in (x, W, b)]
        with chainer.using_config('fasterrcnn_winograd', mode):
            y = convolution_2d(*variables, stride=1, pad=1)
            assert isinstance(y.creator, Convolution2D)
            y.grad = gy
            y.backward()
        grads[mode] = [y.array] + [v.grad for v in variables]
    for a, r in zip(grads['always'], grads['never']):
        numpy.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)


def test_rule_and_switch(monkeypatch):
    def use(mode, *args):
        return numpy_impl.use_winograd(mode, *args)
    wide = (winograd.MIN_CHANNELS, winograd.MIN_CHANNELS)
    big = (64, -(-winograd.MIN_CELLS // 64))
    assert use('auto', 1, *wide, big, (3, 3), (1, 1))
    assert not use('auto', 1, wide[0] - 1, wide[1], big, (3, 3), (1, 1))
    assert not use('auto', 1, *wide, (1, big[1]), (3, 3), (1, 1))
    assert use('auto', 64, *wide, (1, big[1]), (3, 3), (1, 1))
    assert not use('always', 1, *wide, big, (3, 3), (2, 2))
    assert not use('always', 1, *wide, big, (1, 1), (1, 1))
    assert use('always', 1, 1, 1, (1, 1), (3, 3), (1, 1))
    assert not use('never', 1, *wide, big, (3, 3), (1, 1))
    with pytest.raises(ValueError, match='winograd'):
        use('yes', 1, *wide, big, (3, 3), (1, 1))
    # chainer.config first, then the environment, then 'auto'.
    monkeypatch.delenv(convolution.WINOGRAD_ENV, raising=False)
    assert convolution.winograd_mode() == 'auto'
    monkeypatch.setenv(convolution.WINOGRAD_ENV, 'never')
    assert convolution.winograd_mode() == 'never'
    with chainer.using_config('fasterrcnn_winograd', 'always'):
        assert convolution.winograd_mode() == 'always'
    # A wrong value names where it came from.
    monkeypatch.setenv(convolution.WINOGRAD_ENV, 'off')
    with pytest.raises(ValueError, match="FASTERRCNN_WINOGRAD must be one "
                       "of auto, always, never, not 'off'"):
        convolution.winograd_mode()
    with chainer.using_config('fasterrcnn_winograd', 'on'):
        with pytest.raises(ValueError, match='chainer.config'):
            convolution.winograd_mode()


def test_the_switch_reaches_the_computation(monkeypatch):
    x, W, b, gy = _inputs(((1, 4, 6, 6), 4, (1, 1)), numpy.float32)
    calls = []
    for name in ('forward', 'grad_weight'):
        real = getattr(winograd, name)
        monkeypatch.setattr(winograd, name,
                            lambda *a, name=name, real=real, **k:
                            calls.append(name) or real(*a, **k))
    for mode, expected in [('never', []), ('auto', []),
                           ('always', ['forward', 'forward',
                                       'grad_weight'])]:
        del calls[:]
        with chainer.using_config('fasterrcnn_winograd', mode):
            y = convolution_2d(chainer.Variable(x), chainer.Variable(W), b,
                               1, 1)
            y.grad = gy
            y.backward()
        assert sorted(calls) == expected, mode


@pytest.mark.parametrize('m', TILES)
@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
def test_relu_is_the_maximum_of_the_output_bit_for_bit(monkeypatch, m,
                                                       dtype):
    # The bias and the ReLU go on each band's cells before they reach y:
    # the same bits as adding and clamping over y afterwards, NaN and inf
    # included, on several bands and parts.
    x, W, b, _ = _inputs(((2, 6, 11, 13), 5, (1, 1)), dtype)
    x[0, 0, 0, :3] = [numpy.nan, numpy.inf, -numpy.inf]
    monkeypatch.setattr(winograd, 'BAND_BYTES', 1)
    monkeypatch.setattr(winograd, 'BAND_MIN_TILES', 3)
    monkeypatch.setattr(winograd, 'cpu_threads', lambda: 3)
    with numpy.errstate(invalid='ignore'):
        plain = winograd.forward(x, W, None, (1, 1), m)
        expected = numpy.maximum(plain + b.reshape(1, -1, 1, 1), 0)
        out = winograd.forward(x, W, b, (1, 1), m, relu=True)
    assert numpy.isnan(out).any()
    assert out.tobytes() == expected.tobytes()
