"""The tiled NumPy convolution (functions/convolution/numpy_impl.py): the
tiles, their threads and the stride-1 weight gradient change no result."""

import chainer.functions as F
import numpy
import pytest
from chainer.functions.connection import convolution_2d as chainer_conv

from fasterrcnn import cpu_threads
from fasterrcnn.functions.convolution import numpy_impl


def _chainer_grad_weight(x, gy, kernel, stride, pad):
    W = numpy.zeros((gy.shape[1], x.shape[1]) + kernel, x.dtype)
    node = chainer_conv.Convolution2DFunction(stride, pad)
    grad = chainer_conv.Convolution2DGradW(node, W.shape, W.dtype, W.dtype)
    return grad.apply((x, gy))[0].array


@pytest.mark.parametrize('tile_bytes,min_cells', [(1 << 30, 1), (64, 1),
                                                  (2000, 7)])
@pytest.mark.parametrize('stride', [(1, 1), (2, 1)])
def test_any_tiling_gives_the_same_result(monkeypatch, tile_bytes, min_cells,
                                          stride):
    # One tile per image, one row per tile, a few rows per tile: the output
    # and gW are the same; the threads (2 or more parts) take their turns.
    rng = numpy.random.RandomState(0)
    x = rng.uniform(-1, 1, (2, 6, 11, 13)).astype(numpy.float32)
    W = rng.uniform(-1, 1, (5, 6, 3, 3)).astype(numpy.float32)
    b = rng.uniform(-1, 1, 5).astype(numpy.float32)
    monkeypatch.setattr(numpy_impl, 'TILE_BYTES', tile_bytes)
    monkeypatch.setattr(numpy_impl, 'TILE_MIN_CELLS', min_cells)
    monkeypatch.setattr(numpy_impl, 'cpu_threads', lambda: 3)
    y = numpy_impl.forward(x, W, b, stride, (1, 1))
    ref = F.convolution_2d(x, W, b, stride, 1).array
    numpy.testing.assert_allclose(y, ref, atol=1e-5)
    gy = rng.uniform(-1, 1, y.shape).astype(numpy.float32)
    numpy.testing.assert_allclose(
        numpy_impl.grad_weight(x, gy, (3, 3), stride, (1, 1)),
        _chainer_grad_weight(x, gy, (3, 3), stride, (1, 1)), atol=1e-4)


def test_row_tiles_cover_every_row_once(monkeypatch):
    monkeypatch.setattr(numpy_impl, 'cpu_threads', lambda: 2)
    for n, out_h, out_w, k in [(1, 37, 50, 4608), (1, 600, 800, 27),
                               (3, 5, 2, 9), (1, 1, 1, 1)]:
        tiles = numpy_impl._row_tiles(n, out_h, out_w, k, 4)
        for i in range(n):
            rows = sorted((r0, r) for j, r0, r in tiles if j == i)
            assert rows[0][0] == 0
            assert sum(r for _, r in rows) == out_h
            assert all(a[0] + a[1] == b[0] for a, b in zip(rows, rows[1:]))
    # one image is cut into a multiple of the threads (equal work)
    assert len(numpy_impl._row_tiles(1, 37, 50, 4608, 4)) % 2 == 0


def test_thread_errors_reach_the_caller(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError('tile failed')
    monkeypatch.setattr(numpy_impl, '_im2col_view', broken)
    monkeypatch.setattr(numpy_impl, 'TILE_BYTES', 64)
    x = numpy.ones((1, 2, 8, 8), numpy.float32)
    with pytest.raises(RuntimeError, match='tile failed'):
        numpy_impl.forward(x, numpy.ones((2, 2, 3, 3), numpy.float32), None,
                           (1, 1), (1, 1))
    assert cpu_threads._blas_users == 0


@pytest.mark.parametrize('columns', [1, 20, 8192])
def test_one_by_one_batches_of_small_images(monkeypatch, columns):
    # Many small images (a ResNet head's RoIs) go through one GEMM per
    # batch of images: one image per batch, a few, all of them. The output
    # and gW equal Chainer's; larger images keep one GEMM each.
    rng = numpy.random.RandomState(0)
    x = rng.uniform(-1, 1, (7, 5, 3, 2))
    W = rng.uniform(-1, 1, (4, 5, 1, 1))
    gy = rng.uniform(-1, 1, (7, 4, 3, 2))
    monkeypatch.setattr(numpy_impl, 'ONE_BY_ONE_BATCH_COLUMNS', columns)
    numpy.testing.assert_allclose(
        numpy_impl.forward(x, W, None, (1, 1), (0, 0)),
        F.convolution_2d(x, W).array, rtol=1e-13, atol=1e-13)
    numpy.testing.assert_allclose(
        numpy_impl.grad_weight(x, gy, (1, 1), (1, 1), (0, 0)),
        _chainer_grad_weight(x, gy, (1, 1), (1, 1), (0, 0)),
        rtol=1e-13, atol=1e-13)
    monkeypatch.setattr(numpy_impl, 'ONE_BY_ONE_BATCH_CELLS', 1)
    numpy.testing.assert_allclose(
        numpy_impl.forward(x, W, None, (1, 1), (0, 0)),
        F.convolution_2d(x, W).array, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize('cores', [1, 3])
@pytest.mark.parametrize('pad', [(1, 1), (0, 2), (2, 0)])
def test_padded_is_zeros_around_the_input(monkeypatch, cores, pad):
    # 3.2 MB: three slices of the channels when three cores are there;
    # the buffer starts full of NaN, so a zero not written shows.
    monkeypatch.setattr(cpu_threads, 'cpu_threads', lambda: cores)
    real_empty = numpy.empty

    def empty(*args, **kwargs):
        out = real_empty(*args, **kwargs)
        out.fill(numpy.nan)
        return out
    monkeypatch.setattr(numpy_impl.numpy, 'empty', empty)
    x = numpy.random.RandomState(0).uniform(
        -1, 1, (2, 4, 200, 500)).astype(numpy.float32)
    out = numpy_impl.padded(x, *pad)
    monkeypatch.undo()
    expected = numpy.pad(x, ((0, 0), (0, 0), (pad[0],) * 2, (pad[1],) * 2))
    assert out.flags.c_contiguous
    assert out.tobytes() == expected.tobytes()
