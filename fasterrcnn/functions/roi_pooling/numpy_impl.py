"""NumPy backend of RoI max pooling: a sparse-table forward, bincount backward.

This module owns the CPU arithmetic: the bin geometry, the vectorised
forward and the backward scatter. It runs on the scratch buffers and thread
pool of ``numpy_workspace``. The Chainer FunctionNodes in the package
``__init__`` call :func:`forward` and :func:`backward` for NumPy inputs; the
CuPy kernels in ``cuda_impl`` compute the same values bit for bit.

Why a sparse table: a plain loop over bins costs as much as the bins are
large. A two-dimensional sparse table (range maximum query) holds the maximum
of every ``2^kh x 2^kw`` window; any ``h x w`` window is covered exactly by
four such windows, so every bin costs four gathers of a channel vector
whatever its size. Values and arg-max travel together as int64 order keys
(:func:`_fill_order_key`), so one ``numpy.maximum`` picks both. The backward
sums with ``bincount`` in float64, so a cell hit by several bins is rounded
once, as in the CuPy kernel.

Both run on blocks of channels (:data:`_CHANNEL_BLOCK`,
:data:`_SCATTER_BLOCK`), spread over the threads: a block's table, its
gathers (a chunk of bins at a time) and its sums stay in cache, and the
blocks are independent, so every step runs on every core. Each value is
computed the same way whatever the blocks and threads: the keys are exact
integers, and each cell's gradient is summed in the order of the RoIs and
bins, as one ``bincount`` over all channels would.
"""

import numpy

from fasterrcnn.functions.roi_pooling.numpy_workspace import (run_blocks,
                                                              workspace)


def _round_half_away(v, xp):
    """C ``round``: halves go away from zero (``rint`` sends them to even).

    Args:
        v (array): float values of any shape; the result has its dtype.
        xp (module): ``numpy`` (the module of ``v``).
    """
    r = xp.rint(v)
    frac = v - xp.trunc(v)
    return xp.where(xp.abs(frac) == 0.5, xp.trunc(v) + xp.sign(v), r)


def _bins(rois, outh, outw, spatial_scale, height, width, xp):
    """Bin edges of every RoI, as ``torchvision.ops.roi_pool`` computes them.

    The CUDA preamble in ``cuda_impl`` does the same arithmetic per RoI.

    Args:
        rois (array): ``(R, 4)`` float ``(y_min, x_min, y_max, x_max)`` in
            input-image pixels; the arithmetic is done in this dtype.
        xp (module): ``numpy`` (the module of ``rois``).

    Returns:
        tuple: ``hstart, hend`` ``(R, outh)`` and ``wstart, wend`` ``(R,
        outw)`` int32 cell indices, clipped to ``[0, height]`` / ``[0,
        width]``; a bin covers ``[start, end)``.
    """
    dtype = rois.dtype
    scaled = rois * dtype.type(spatial_scale)
    corner = _round_half_away(scaled, xp).astype(numpy.int32)
    start_h, start_w, end_h, end_w = (corner[:, k] for k in range(4))
    roi_h = xp.maximum(end_h - start_h + 1, 1).astype(dtype)
    roi_w = xp.maximum(end_w - start_w + 1, 1).astype(dtype)
    bin_h = roi_h / dtype.type(outh)
    bin_w = roi_w / dtype.type(outw)

    def edges(start, bin_size, n_bins, limit):
        index = xp.arange(n_bins, dtype=dtype)
        lo = xp.floor(index[None, :] * bin_size[:, None]).astype(numpy.int32)
        hi = xp.ceil((index[None, :] + 1) * bin_size[:, None]).astype(
            numpy.int32)
        lo = xp.clip(lo + start[:, None], 0, limit)
        hi = xp.clip(hi + start[:, None], 0, limit)
        return lo, hi

    hstart, hend = edges(start_h, bin_h, outh, height)
    wstart, wend = edges(start_w, bin_w, outw, width)
    return hstart, hend, wstart, wend


def _floor_log2(n):
    """``floor(log2(n))`` of a positive int array, exactly (no float log).

    Args:
        n (numpy.ndarray): ``(K,)`` positive int32 window sizes.

    Returns:
        numpy.ndarray: ``(K,)`` int32.
    """
    out = numpy.zeros(n.shape, dtype=numpy.int32)
    n = n.copy()
    while True:
        big = n > 1
        if not big.any():
            return out
        out += big
        n >>= 1


def _fill_order_key(val, out):
    """Write int64 keys whose maximum is the maximum value, then first cell.

    The high 32 bits order the values: for float32 the IEEE bits made
    monotonic (negative numbers have their magnitude bits flipped), for other
    dtypes the dense rank of the value. The low 32 bits hold ``2^31 - 1 -
    cell`` so that, among equal values, the smaller (first in row-major order)
    cell index wins, as torchvision's strict ``>`` scan does. One
    ``numpy.maximum`` then combines two windows, value and arg-max together.

    Args:
        val (numpy.ndarray): ``(N, H, W, C)`` float values without NaN; for
            float32 it is modified (-0.0 becomes 0.0).
        out (numpy.ndarray): ``(N, H, W, C)`` int64, receives the keys.

    Returns:
        callable: ``decode(high, out)`` writes the values of an int32 array
        of key high halves into ``out``.
    """
    n, height, width, c = val.shape
    if val.dtype == numpy.float32:
        # -0.0 and 0.0 are equal values: they get one key (that of 0.0).
        numpy.add(val, numpy.float32(0), out=val)
        high = val.view(numpy.int32)
        high = high ^ ((high >> 31) & numpy.int32(0x7FFFFFFF))

        def decode(high, out):
            bits = out.view(numpy.int32)
            numpy.right_shift(high, 31, out=bits)
            numpy.bitwise_and(bits, numpy.int32(0x7FFFFFFF), out=bits)
            numpy.bitwise_xor(bits, high, out=bits)
    else:
        unique, high = numpy.unique(val, return_inverse=True)
        high = high.reshape(val.shape).astype(numpy.int32)

        def decode(high, out):
            out[...] = unique[high]
    cell = numpy.arange(height * width, dtype=numpy.int64).reshape(
        1, height, width, 1)
    numpy.left_shift(high, 32, out=out, dtype=numpy.int64)
    numpy.bitwise_or(out, 0x7FFFFFFF - cell, out=out)
    return decode


def _split_key(key):
    """The high (value) and low (cell) int32 halves of int64 keys.

    On little-endian machines these are views (no copy) of ``key``, any
    shape; elsewhere copies.
    """
    if numpy.little_endian:
        halves = key.view(numpy.int32).reshape(key.shape + (2,))
        return halves[..., 1], halves[..., 0]
    return ((key >> 32).astype(numpy.int32),
            (key & 0xFFFFFFFF).astype(numpy.int32))


def forward(x, rois, roi_indices, outh, outw, spatial_scale,
            argmax=True):
    """RoI max pooling on the CPU.

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` float feature maps.
        rois (numpy.ndarray): ``(R, 4)`` RoIs, dtype of ``x``, ``(y_min,
            x_min, y_max, x_max)`` in input-image pixels.
        roi_indices (numpy.ndarray): ``(R,)`` int32, the image of each RoI
            in ``[0, N)``.
        outh (int): bins per RoI vertically.
        outw (int): bins per RoI horizontally.
        spatial_scale (float): feature-map cells per image pixel.
        argmax (bool): also find the arg-max cells (for a backward).
            False (``predict``) compares the values themselves instead of
            int64 keys of value and cell (:func:`_fill_order_key`): half
            the memory traffic, the same ``y`` (a block holding a -0.0
            still goes through the keys, which give its sign back).

    Returns:
        tuple: ``y`` ``(R, C, outh, outw)`` dtype of ``x``, and the arg-max
        cells ``(R, C, outh, outw)`` int32, flat ``h * W + w`` or -1 for
        none (the layout of the CUDA kernels); None with ``argmax=False``.
    """
    n, c, height, width = x.shape
    r = len(rois)
    if r == 0:
        return (numpy.zeros((0, c, outh, outw), dtype=x.dtype),
                numpy.zeros((0, c, outh, outw), dtype=numpy.int32)
                if argmax else None)
    hstart, hend, wstart, wend = _bins(
        rois, outh, outw, spatial_scale, height, width, numpy)
    # (R, outh, outw) bin geometry, then only the bins that hold a cell.
    hs = numpy.broadcast_to(hstart[:, :, None], (r, outh, outw))
    he = numpy.broadcast_to(hend[:, :, None], (r, outh, outw))
    ws = numpy.broadcast_to(wstart[:, None, :], (r, outh, outw))
    we = numpy.broadcast_to(wend[:, None, :], (r, outh, outw))
    full = (he > hs) & (we > ws)
    # Empty bins give 0 and no arg-max. They are gathered with the rest,
    # from a one-cell window at the image's first cell, and overwritten:
    # so every block writes whole RoIs of y and argmax straight from its
    # chunks. (Gathering the full bins alone and transposing them into y
    # at the end took most of a forward of 300 RoIs to 14 x 14 at
    # 1024 channels, where the map's edge leaves a few bins empty.)
    if not full.any():
        return (numpy.zeros((r, c, outh, outw), dtype=x.dtype),
                numpy.full((r, c, outh, outw), -1, dtype=numpy.int32)
                if argmax else None)
    empty = None if full.all() else ~full.ravel()
    y = numpy.empty((r, c, outh, outw), dtype=x.dtype)
    cells = numpy.empty((r, c, outh, outw), dtype=numpy.int32) \
        if argmax else None
    nb = numpy.broadcast_to(roi_indices[:, None, None], full.shape)
    hs, he, ws, we, nb = (a.ravel() for a in (hs, he, ws, we, nb))
    if empty is not None:
        hs, ws = (numpy.where(empty, 0, a) for a in (hs, ws))
        he, we = (numpy.where(empty, 1, a) for a in (he, we))
    kh = _floor_log2(he - hs)
    kw = _floor_log2(we - ws)
    n_kh = int(kh.max()) + 1
    n_kw = int(kw.max()) + 1
    # Four windows of 2^kh x 2^kw cells cover each bin exactly: their rows
    # in a block's table (n_kh, n_kw, N, H, W) flattened.
    base = (kh * n_kw + kw) * n + nb
    bottom = he - (1 << kh)
    right = we - (1 << kw)
    rows = [(base * height + h) * width + w for h, w in
            ((hs, ws), (hs, right), (bottom, ws), (bottom, right))]
    k = len(hs)
    blocks = _channel_blocks(c, _CHANNEL_BLOCK)
    # Bins gathered at a time: whole RoIs, so that y is written straight
    # from the chunk.
    bins = outh * outw
    chunk = bins * max(1, _CHUNK_BYTES // (8 * _CHANNEL_BLOCK) // bins)

    def work(part, block):
        c0, c1 = blocks[block]
        _pool_block(x, c0, c1, part, (n_kh, n_kw), rows, nb, k, chunk,
                    (y, cells), empty)

    run_blocks(work, len(blocks), k * c)
    return y, cells


#: Channels computed together. The forward and backward run on blocks of
#: this many channels (each block's sparse table, gathers and scatter small
#: enough to stay in cache), the blocks spread over the threads.
_CHANNEL_BLOCK = 64

#: Bytes of one gathered chunk of keys in the forward.
_CHUNK_BYTES = 1 << 20

#: Channels of one ``bincount`` in the backward.
_SCATTER_BLOCK = 32


def _channel_blocks(c, size):
    """``[(c0, c1)]``: the channels cut into blocks of at most ``size``."""
    return [(c0, min(c0 + size, c)) for c0 in range(0, c, size)]


def _pool_block(x, c0, c1, part, levels, rows, nb, k, chunk, out, empty):
    """The forward of channels ``[c0, c1)``: their sparse table, then every
    bin's four gathers, ``chunk`` bins at a time.

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` the forward's input.
        part (int): the thread's part (its own workspace buffers).
        levels (tuple): ``(n_kh, n_kw)`` window sizes of the table.
        rows (list): four ``(K,)`` table rows per bin (its four windows).
        nb (numpy.ndarray): ``(K,)`` the image of each bin.
        k (int): bins ``K``.
        chunk (int): bins gathered at a time, whole RoIs.
        out (tuple): the forward's ``y`` ``(R, C, outh, outw)`` and
            ``argmax`` (int32, same shape, or None: values alone); bin
            ``i`` is bin ``i % (outh * outw)`` of RoI ``i // (outh *
            outw)``.
        empty (numpy.ndarray or None): ``(K,)`` bool, the bins that hold
            no cell (their rows point at a valid one-cell window), or None
            for none.
    """
    n, _, height, width = x.shape
    n_kh, n_kw = levels
    cb = c1 - c0
    lowest = numpy.finfo(x.dtype).min
    # Channels last, so that each gather below reads one contiguous vector.
    val = workspace.get('val%d' % part, (n, height, width, cb), x.dtype)
    val[...] = x[:, c0:c1].transpose(0, 2, 3, 1)
    # The keys make -0.0 and 0.0 one value; a bin whose maximum is a -0.0
    # cell then takes its sign back from x (the kernel returns the cell's
    # value itself). Checked once: features rarely hold a -0.0.
    negative_zero = _has_negative_zero(val)
    nan = numpy.isnan(val)
    if nan.any():
        val[nan] = -numpy.inf
    # Values alone where no arg-max is asked for and no -0.0 needs its
    # sign from it: equal maxima are then equal bits, whichever cell wins.
    keys = out[1] is not None or negative_zero
    kind = numpy.int64 if keys else x.dtype
    # table[i, j, n, h, w]: the key (or value) of the 2^i x 2^j window
    # whose top-left cell is (h, w). Windows that would cross the map's
    # edge keep a smaller window's; they are never read.
    table = workspace.get('table%d' % part,
                          (n_kh, n_kw, n, height, width, cb), kind)
    if keys:
        decode = _fill_order_key(val, table[0, 0])
    else:
        table[0, 0] = val
    for i in range(n_kh):
        if i:
            step = 1 << (i - 1)
            prev = table[i - 1, 0]
            numpy.maximum(prev[:, :-step], prev[:, step:],
                          out=table[i, 0, :, :-step])
            table[i, 0, :, -step:] = prev[:, -step:]
        for j in range(1, n_kw):
            step = 1 << (j - 1)
            prev = table[i, j - 1]
            numpy.maximum(prev[:, :, :-step], prev[:, :, step:],
                          out=table[i, j, :, :, :-step])
            table[i, j, :, :, -step:] = prev[:, :, -step:]
    table = table.reshape(-1, cb)
    key_buf = workspace.get('key%d' % part, (chunk, cb), kind)
    other_buf = workspace.get('other%d' % part, (chunk, cb), kind)
    best_buf = workspace.get('best%d' % part, (chunk, cb), x.dtype)
    cell_buf = workspace.get('cell%d' % part, (chunk, cb), numpy.int32)
    x_block = x[:, c0:c1]
    for k0 in range(0, k, chunk):
        k1 = min(k0 + chunk, k)
        m = k1 - k0
        key, other = key_buf[:m], other_buf[:m]
        best, cell = best_buf[:m], cell_buf[:m]
        for corner in range(4):
            # mode='clip' lets take() write straight into `out` (the rows
            # are valid); the default mode buffers the result first.
            numpy.take(table, rows[corner][k0:k1], axis=0,
                       out=key if corner == 0 else other, mode='clip')
            if corner:
                numpy.maximum(key, other, out=key)
        if keys:
            high, low = _split_key(key)
            decode(high, best)
            numpy.subtract(numpy.int32(0x7FFFFFFF), low, out=cell)
        else:
            best = key
        # torchvision starts each bin's maximum at the lowest finite value
        # and replaces it only with a strictly greater cell.
        if best.min() <= lowest:
            none = best <= lowest
            best[none] = lowest
            cell[none] = -1
        if empty is not None and empty[k0:k1].any():
            best[empty[k0:k1]] = 0
            cell[empty[k0:k1]] = -1
        if negative_zero:
            _signed_zeros(x_block, best, cell, nb[k0:k1])
        y, argmax = out
        outh, outw = y.shape[2:]
        r0, r1 = k0 // (outh * outw), k1 // (outh * outw)
        y[r0:r1, c0:c1] = best.reshape(
            r1 - r0, outh, outw, cb).transpose(0, 3, 1, 2)
        if argmax is not None:
            argmax[r0:r1, c0:c1] = cell.reshape(
                r1 - r0, outh, outw, cb).transpose(0, 3, 1, 2)


def _has_negative_zero(val):
    """Whether the float array ``val`` holds a -0.0: its bits are the
    sign bit alone, the lowest integer of the same width. One compare per
    value: 0.08 ms on a 512 x 38 x 50 ReLU map, where gathering the zeros
    to test their sign took 6.6 ms (12% of that forward's 56 ms)."""
    bits = val.view(numpy.dtype('i{}'.format(val.dtype.itemsize)))
    return bool((bits == numpy.iinfo(bits.dtype).min).any())


def _signed_zeros(x, best, cell, image):
    """Give each zero maximum the sign of its cell in ``x`` (in place).

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` the forward's input.
        best (numpy.ndarray): ``(K, C)`` maxima of K bins.
        cell (numpy.ndarray): ``(K, C)`` int32 their flat cells ``h * W +
            w`` (-1: none).
        image (numpy.ndarray): ``(K,)`` the image of each bin.
    """
    rows, channels = numpy.nonzero((best == 0) & (cell >= 0))
    if len(rows):
        at = cell[rows, channels]
        width = x.shape[3]
        best[rows, channels] = x[image[rows], channels, at // width,
                                 at % width]


def backward(gy, argmax, roi_indices, x_shape):
    """Scatter each bin's gradient to its arg-max cell.

    Args:
        gy (numpy.ndarray): ``(R, C, outh, outw)`` output gradient.
        argmax (numpy.ndarray): ``(R, C, outh, outw)`` int32 flat cell index
            ``h * W + w`` of each bin's maximum, -1 for none (as
            :func:`forward` returns it).
        roi_indices (numpy.ndarray): ``(R,)`` int32 image of each RoI.
        x_shape (tuple): ``(N, C, H, W)``.

    Returns:
        numpy.ndarray: ``(N, C, H, W)`` gradient, dtype of ``gy``.
    """
    n, c, height, width = x_shape
    if len(argmax) == 0:
        return numpy.zeros(x_shape, dtype=gy.dtype)
    gx = numpy.empty(x_shape, dtype=gy.dtype)
    image = roi_indices.astype(numpy.int64)[:, None]
    every_bin_hit = bool(argmax.min() >= 0)
    blocks = _channel_blocks(c, _SCATTER_BLOCK)

    def work(part, block):
        c0, c1 = blocks[block]
        _scatter_block(gy, argmax, image, gx, c0, c1, part, every_bin_hit)

    run_blocks(work, len(blocks), gy.size)
    return gx


def _scatter_block(gy, argmax, image, gx, c0, c1, part, every_bin_hit):
    """The backward of channels ``[c0, c1)`` into ``gx[:, c0:c1]``.

    ``bincount`` sums in float64 (a cell hit by several bins is rounded
    once), each cell's terms in the order of the RoIs and bins, as one
    ``bincount`` over all channels would.

    Args:
        gy (numpy.ndarray): ``(R, C, outh, outw)`` output gradient.
        argmax (numpy.ndarray): ``(R, C, outh, outw)`` int32 arg-max cells.
        image (numpy.ndarray): ``(R, 1)`` int64 image of each RoI.
        gx (numpy.ndarray): ``(N, C, H, W)`` receives the gradient.
        part (int): the thread's part (its own workspace buffers).
        every_bin_hit (bool): no arg-max is -1.
    """
    n, _, height, width = gx.shape
    cb = c1 - c0
    cell = argmax[:, c0:c1]
    # Flat position in the block's (N, cb, H, W) of every bin's arg-max
    # cell, in gy's order.
    plane = (image * cb + numpy.arange(cb)[None, :]) * (height * width)
    shape = cell.shape
    position = workspace.get('position%d' % part, shape, numpy.int64)
    position[...] = cell
    position += plane[:, :, None, None]
    weight = workspace.get('weight%d' % part, shape, numpy.float64)
    weight[...] = gy[:, c0:c1]
    size = n * cb * height * width
    if every_bin_hit:
        total = numpy.bincount(position.ravel(), weights=weight.ravel(),
                               minlength=size)
    else:
        hit = cell >= 0
        total = numpy.bincount(position[hit], weights=weight[hit],
                               minlength=size)
    gx[:, c0:c1] = total.reshape(n, cb, height, width)
