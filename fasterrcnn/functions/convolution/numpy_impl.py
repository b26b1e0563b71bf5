"""The NumPy twin of the 2-D convolution: im2col in cache-sized tiles, GEMM.

Chainer's CPU convolution builds the whole im2col matrix, ``C * kh * kw``
rows by ``N * H' * W'`` columns, before one GEMM: 1.1 GB for conv1_2 at
600 x 800, written once and read back from memory, so the large early
layers of VGG16 run at a fraction of the BLAS's speed (27 GFLOP/s for
conv1_2 here, where the BLAS gives about 130). Here the same matrix is
built a few output rows at a time into a buffer of about
:data:`TILE_BYTES`, which stays in cache while its GEMM reads it, and the
tiles run on every core (:mod:`fasterrcnn.cpu_threads`).

* :func:`forward`: ``y = W * x + b`` for any stride and zero padding.
* :func:`grad_weight`: ``gW``, the same tiles, one GEMM of the output
  gradient with each tile's im2col, a sum per thread. (Before 2026-12-06
  stride 1 skipped the im2col: one GEMM per kernel offset over the whole
  image, long and thin products that ran on one core. The demo's 13
  layers' gW took 20.1 ms that way and take 13.4 on the tiles,
  ``bench/conv.py --winograd --size 192 256 --channels 8 16 32 64 64``;
  docs/performance.md.)
* The input gradient is itself a convolution (of the output gradient with
  the flipped, transposed kernel); the FunctionNode computes it with
  :func:`forward`.
* 3 x 3 stride-1 layers wide enough for it to pay (``winograd.pays``, a
  measured rule) go to Winograd's minimal filtering instead
  (:mod:`.winograd`), in :func:`forward` (so the input gradient too) and
  :func:`grad_weight`; ``winograd='never'`` keeps them here, ``'always'``
  sends every 3 x 3 stride-1 call there.

Arrays are NCHW, ``W`` is ``(C_out, C_in, kh, kw)``, as in Chainer.
"""

import numpy
from numpy.lib.stride_tricks import as_strided

from fasterrcnn.cpu_threads import (cpu_threads, run_parallel,
                                    run_slices_by_size)
from fasterrcnn.functions.convolution import winograd as winograd_impl

#: The values of the ``winograd`` argument (module doc).
WINOGRAD_MODES = ('auto', 'always', 'never')

#: Bytes of one im2col tile, and the fewest output cells in one. The
#: tiles need not fit in cache (the GEMM blocks its operands itself), but
#: each GEMM call packs the whole kernel matrix again, up to 9.4 MB for the
#: 512-channel layers: with too few columns per call the packing, not the
#: arithmetic, takes the time. 512 to 16384 cells measured within noise of
#: each other at every VGG16 layer on the 2-core development machine
#: (bench/conv.py). 2 MB rather than 4: the demo's layers with 3.5 MB of
#: im2col (conv2_1, conv3_2, conv3_3) are then two tiles, one a core with
#: the BLAS at one thread, instead of one product on the BLAS's two
#: threads: a demo training iteration 2.4 ms less on average over 150
#: pairs (``bench/paired.py --switch tiles``; 1 MB measured the same as
#: 2).
TILE_BYTES = 2 << 20
TILE_MIN_CELLS = 512


#: 1 x 1 convolutions of several images with fewer cells than this each
#: (a ResNet head's RoIs: 7 x 7 or 14 x 14) are one GEMM per batch of
#: images: 300 RoIs of 7 x 7, 512 to 2048 channels, took 801 ms as 300
#: GEMMs of 49 columns and 211 ms as one (2-core development machine).
ONE_BY_ONE_BATCH_CELLS = 1024
#: Columns (cells of all its images) of one batch's GEMM: its copies
#: stay tens of MB while the GEMM is wide enough for the BLAS's speed.
ONE_BY_ONE_BATCH_COLUMNS = 8192


def output_size(size, kernel, stride, pad):
    """Output cells along one axis (no ``cover_all``)."""
    return (size + 2 * pad - kernel) // stride + 1


def padded(x, pad_h, pad_w):
    """``(N, C, H + 2 pad_h, W + 2 pad_w)`` C-contiguous copy of ``x``
    with zeros around it; ``x`` itself when nothing is added and it is
    contiguous.

    Zeros are written around ``x`` only, by slices of the channels on
    every core (parts of at least 1 MB): conv1_2's input at 600 x 800
    (123 MB) took 49 ms as zeros over the whole, then a copy, on one
    core, and takes 14 to 18 ms this way (2-core development machine).
    """
    n, c, h, w = x.shape
    if pad_h == pad_w == 0:
        return numpy.ascontiguousarray(x)
    out = numpy.empty((n, c, h + 2 * pad_h, w + 2 * pad_w), dtype=x.dtype)

    def work(c0, c1):
        o = out[:, c0:c1]
        o[:, :, :pad_h] = 0
        o[:, :, pad_h + h:] = 0
        o[:, :, pad_h:pad_h + h, :pad_w] = 0
        o[:, :, pad_h:pad_h + h, pad_w + w:] = 0
        o[:, :, pad_h:pad_h + h, pad_w:pad_w + w] = x[:, c0:c1]
    run_slices_by_size(work, c, out.nbytes, 1 << 20)
    return out


def _row_tiles(n, out_h, out_w, k, itemsize):
    """``[(image, first output row, rows)]`` covering every output row:
    tiles of about :data:`TILE_BYTES` of im2col (``k`` values per output
    cell) and at least :data:`TILE_MIN_CELLS` cells, as many per image as
    a multiple of the threads so that every thread gets the same work.

    An image's tiles do not depend on the batch it is in, so that its
    products are those it gets alone: a gradient summed over a batch of
    two then differs from the sum of two processes' by the order of the
    last additions only (tests/training/test_distributed.py).
    """
    cells = max(TILE_BYTES // (k * itemsize), TILE_MIN_CELLS)
    per_image = -(-out_h * out_w // cells)
    if per_image > 1:
        # One tile (a small layer) runs on the calling thread: handing it
        # to the pool costs more than it saves (about 150 us a call).
        threads = cpu_threads()
        per_image = -(-per_image // threads) * threads
    per_image = max(1, min(per_image, out_h))
    rows = -(-out_h // per_image)
    return [(i, r0, min(rows, out_h - r0))
            for i in range(n) for r0 in range(0, out_h, rows)]


def _im2col_view(xp, image, r0, rows, out_w, kernel, stride):
    """``(C, kh, kw, rows, W')`` view of the padded input ``xp``: the
    cells each kernel offset meets for output rows ``r0 .. r0 + rows``."""
    _, c, _, _ = xp.shape
    kh, kw = kernel
    sy, sx = stride
    s = xp.strides
    return as_strided(xp[image, :, r0 * sy:], (c, kh, kw, rows, out_w),
                      (s[1], s[2], s[3], s[2] * sy, s[3] * sx),
                      writeable=False)


def _n_parts(tiles):
    """The parts (threads) :func:`_for_each_tile` splits ``tiles`` into."""
    return min(cpu_threads(), len(tiles))


def _for_each_tile(tiles, col_shape, dtype, work):
    """Run ``work(tile, col, part)`` for every tile on the CPU pool, each
    of the :func:`_n_parts` parts with its own im2col buffer ``col`` of
    ``col_shape`` (elements per output cell, output cells per tile)."""
    n_parts = _n_parts(tiles)

    def part(p):
        col = numpy.empty(col_shape[0] * col_shape[1], dtype=dtype)
        for tile in tiles[p::n_parts]:
            work(tile, col, p)
    # One BLAS thread per part: the parts already use every core. Part 0
    # on the calling thread: its scratch is one tile of TILE_BYTES.
    run_parallel(part, n_parts, blas=1 if n_parts > 1 else None, here=True)


def use_winograd(mode, n, c_in, c_out, out_size, kernel, stride):
    """Whether a call goes to :mod:`.winograd`: ``mode`` is one of
    :data:`WINOGRAD_MODES`; ``n`` images, ``out_size`` is ``(H', W')``."""
    if mode not in WINOGRAD_MODES:
        raise ValueError('winograd must be one of {}, not {!r}'.format(
            WINOGRAD_MODES, mode))
    if mode == 'never' or not winograd_impl.applies(kernel, stride):
        return False
    return mode == 'always' or winograd_impl.pays(n, c_in, c_out,
                                                  *out_size)


def forward(x, W, b, stride, pad, winograd='auto', relu=False):
    """The convolution, and with ``relu`` the ReLU of it.

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` float input.
        W (numpy.ndarray): ``(C_out, C, kh, kw)`` kernel, same dtype.
        b (numpy.ndarray or None): ``(C_out,)`` bias.
        stride (tuple): ``(sy, sx)``.
        pad (tuple): ``(ph, pw)`` zero padding on each side.
        winograd (str): one of :data:`WINOGRAD_MODES` (module doc).
        relu (bool): ``max(y, 0)`` (``numpy.maximum``, as Chainer's ReLU
            computes it, so the same bits), on each tile while it is in
            cache rather than in another pass over ``y``.

    Returns:
        numpy.ndarray: ``(N, C_out, H', W')``.
    """
    n, c, h, w = x.shape
    c_out, _, kh, kw = W.shape
    out_h = output_size(h, kh, stride[0], pad[0])
    out_w = output_size(w, kw, stride[1], pad[1])
    if use_winograd(winograd, n, c, c_out, (out_h, out_w), (kh, kw),
                    stride):
        # The bias and the ReLU on each band while it is in cache.
        return winograd_impl.forward(x, W, b, pad, relu=relu)
    y = numpy.empty((n, c_out, out_h, out_w), dtype=x.dtype)
    if y.size == 0:
        return y
    k = c * kh * kw
    w2 = numpy.ascontiguousarray(W).reshape(c_out, k)
    y_flat = y.reshape(n, c_out, out_h * out_w)
    bias = None if b is None else b.reshape(c_out, 1)
    if (kh, kw, stride, pad) == (1, 1, (1, 1), (0, 0)):
        # A 1 x 1 kernel needs no im2col: each image is one GEMM (on the
        # BLAS's own threads), or, for many small images, each batch of
        # images (below).
        x_flat = numpy.ascontiguousarray(x).reshape(n, c, h * w)
        if _batched_one_by_one(n, h * w):
            _one_by_one_batched(w2, x_flat, y_flat)
        else:
            for i in range(n):
                numpy.matmul(w2, x_flat[i], out=y_flat[i])
        _finish(y_flat, bias, relu)
    else:
        xp = padded(x, pad[0], pad[1])
        tiles = _row_tiles(n, out_h, out_w, k, x.itemsize)

        def work(tile, col, part):
            i, r0, rows = tile
            cells = rows * out_w
            block = col[:k * cells].reshape(c, kh, kw, rows, out_w)
            numpy.copyto(block, _im2col_view(xp, i, r0, rows, out_w,
                                             (kh, kw), stride))
            out = y_flat[i, :, r0 * out_w:r0 * out_w + cells]
            numpy.matmul(w2, block.reshape(k, cells), out=out)
            _finish(out, bias, relu)   # while the tile is in cache

        _for_each_tile(tiles, (k, tiles[0][2] * out_w), x.dtype, work)
    return y


def _finish(out, bias, relu):
    """Add ``bias`` ``(C_out, 1)`` (or None) to ``out`` ``(..., C_out,
    cells)`` in place, then with ``relu`` take ``max(out, 0)``
    (``numpy.maximum``, as Chainer's ReLU: the same bits)."""
    if bias is not None:
        out += bias
    if relu:
        numpy.maximum(out, 0, out=out)


def _batched_one_by_one(n, cells):
    """Whether a 1 x 1 stride-1 convolution of ``n`` images of ``cells``
    cells each runs one GEMM per batch of images (many small images)."""
    return n > 1 and cells < ONE_BY_ONE_BATCH_CELLS


def _image_batches(a):
    """``(i0, i1, columns)`` for each batch of images of ``a`` ``(N, C,
    cells)``: ``columns`` is ``(C, (i1 - i0) * cells)``, its images side
    by side, about :data:`ONE_BY_ONE_BATCH_COLUMNS` columns."""
    n, c, cells = a.shape
    per_batch = max(1, ONE_BY_ONE_BATCH_COLUMNS // cells)
    for i0 in range(0, n, per_batch):
        i1 = min(i0 + per_batch, n)
        yield i0, i1, numpy.ascontiguousarray(
            a[i0:i1].transpose(1, 0, 2)).reshape(c, -1)


def _one_by_one_batched(w2, x_flat, y_flat):
    """``y_flat[i] = w2 @ x_flat[i]`` for every image ``i``, a batch of
    images per GEMM: ``(O, C) @ (C, images * cells)``.

    Args:
        w2 (numpy.ndarray): ``(O, C)`` kernel.
        x_flat (numpy.ndarray): ``(N, C, cells)`` C-contiguous input.
        y_flat (numpy.ndarray): ``(N, O, cells)`` output, written.
    """
    cells = x_flat.shape[2]
    for i0, i1, columns in _image_batches(x_flat):
        product = numpy.matmul(w2, columns)
        y_flat[i0:i1] = product.reshape(-1, i1 - i0, cells).transpose(
            1, 0, 2)


def _one_by_one_grad_weight_batched(x, gy):
    """``gW`` of a 1 x 1 stride-1 convolution of many small images:
    ``sum_i gy_i @ x_i^T`` as one GEMM ``(O, images * cells) @ (images *
    cells, C)`` per batch of images (:func:`_image_batches`).

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` input of the forward.
        gy (numpy.ndarray): ``(N, O, H, W)`` gradient of its output.

    Returns:
        numpy.ndarray: ``(O, C, 1, 1)``.
    """
    n, c, h, w = x.shape
    c_out = gy.shape[1]
    gW = numpy.zeros((c_out, c), dtype=x.dtype)
    gy_batches = _image_batches(gy.reshape(n, c_out, h * w))
    for (_, _, x_cols), (_, _, gy_cols) in zip(
            _image_batches(x.reshape(n, c, h * w)), gy_batches):
        gW += numpy.matmul(gy_cols, x_cols.T)
    return gW.reshape(c_out, c, 1, 1)


def grad_weight(x, gy, kernel, stride, pad, winograd='auto'):
    """``gW`` of the convolution.

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` input of the forward.
        gy (numpy.ndarray): ``(N, C_out, H', W')`` gradient of its output.
        kernel (tuple): ``(kh, kw)``.
        stride, pad (tuple): as in :func:`forward`.
        winograd (str): as in :func:`forward`.

    Returns:
        numpy.ndarray: ``(C_out, C, kh, kw)``.
    """
    n, c, h, w = x.shape
    _, c_out, out_h, out_w = gy.shape
    if use_winograd(winograd, n, c, c_out, (out_h, out_w), kernel,
                    stride):
        return winograd_impl.grad_weight(x, gy, pad)
    kh, kw = kernel
    k = c * kh * kw
    if (kh, kw, stride, pad) == (1, 1, (1, 1), (0, 0)) and \
            _batched_one_by_one(n, out_h * out_w):
        return _one_by_one_grad_weight_batched(x, gy)
    xp = padded(x, pad[0], pad[1])
    gy_flat = numpy.ascontiguousarray(gy).reshape(n, c_out, out_h * out_w)
    tiles = _row_tiles(n, out_h, out_w, k, x.itemsize)
    # One sum per part: the parts add into their own.
    sums = numpy.zeros((max(_n_parts(tiles), 1), c_out, k), dtype=x.dtype)
    if not tiles:
        return sums[0].reshape(c_out, c, kh, kw)

    def work(tile, col, part):
        i, r0, rows = tile
        cells = rows * out_w
        block = col[:k * cells].reshape(c, kh, kw, rows, out_w)
        numpy.copyto(block, _im2col_view(xp, i, r0, rows, out_w, kernel,
                                         stride))
        sums[part] += numpy.matmul(
            gy_flat[i, :, r0 * out_w:r0 * out_w + cells],
            block.reshape(k, cells).T)

    _for_each_tile(tiles, (k, tiles[0][2] * out_w), x.dtype, work)
    return sums.sum(axis=0).reshape(c_out, c, kh, kw)
