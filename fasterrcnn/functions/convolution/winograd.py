"""Winograd minimal filtering for 3 x 3, stride-1 convolutions on the CPU.

Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"
(section 4): an ``m x m`` tile of the output of a 3 x 3 correlation is

    Y = A^T [ (G g G^T) (.) (B^T d B) ] A

for the ``a x a`` input tile ``d`` (``a = m + 2``) it reads, the kernel
``g`` and the elementwise product ``(.)``. Summed over the input channels,
the product becomes one matrix product per tile cell ``(i, j)``: ``a * a``
GEMMs of ``(C_out x C_in) @ (C_in x tiles)``, ``a^2 / m^2`` products per
output cell where the im2col path computes 9 (4 against 9 for F(2x2,
3x3)). What remains, the transforms, only adds and scales; they run here
as NumPy operations on slices of a few MB.

Shape shorthand used throughout (NCHW, as in Chainer):

* ``N, C, H, W``: the input; ``O``: output channels; ``H', W'``: the
  output (stride 1: ``H + 2 ph - 2``);
* ``m``: output cells per tile side, ``a = m + 2`` input cells per tile
  side; ``th, tw``: tiles down and across (``ceil(H' / m)``, ...);
* a *band*: the tiles computed together, ``rows`` tile rows of ``ni``
  images (rows of one image, or whole small images), ``P`` tiles;
* ``U`` ``(a, a, O, C)``: the transformed kernel ``G g G^T``;
  ``V`` ``(a, a, C, P)``: the transformed input tiles ``B^T d B``;
  ``M`` ``(a, a, O, P)``: their products (both held one row ``V[i]``,
  ``M[i]`` at a time).

Functions (float32 or float64 NumPy arrays; ``W`` is ``(O, C, 3, 3)``):

* :func:`forward`: ``y = W * x + b``, stride 1, zero padding ``pad``;
* :func:`grad_weight`: ``gW = G^T [ sum over tiles of (A gy A^T) (.)
  (B^T d B) ] G``, the transpose of the forward's linear map in ``g``;
* the input gradient is the forward of the flipped, transposed kernel
  (the FunctionNode's ``grad_input``), so it comes through :func:`forward`.

The products are the same as the im2col path's up to the transforms' own
rounding: F(2x2, 3x3) only adds and subtracts the input (its ``B`` holds
0 and +-1), F(4x4, 3x3) also scales by up to 8 and loses more than a
decimal digit in float32 (Lavin & Gray, section 5; measured:
bench/conv.py ``--error``). :data:`TILE` picks which.

A non-finite input makes the whole tiles that read it non-finite: more
output cells than the im2col path's 3 x 3 neighbourhood, never fewer.
"""

import numpy

from fasterrcnn.cpu_threads import (cpu_threads, run_parallel, run_slices,
                                    run_slices_by_size)

#: ``(B^T, G, A^T)`` of F(m x m, 3 x 3) by ``m``, with the interpolation
#: points of Lavin & Gray 2016 (section 4.1 for m = 2 with points 0, 1,
#: -1 and infinity; 4.2 for m = 4 with 0, +-1, +-2 and infinity).
MATRICES = {
    2: ([[1, 0, -1, 0],
         [0, 1, 1, 0],
         [0, -1, 1, 0],
         [0, 1, 0, -1]],
        [[1, 0, 0],
         [.5, .5, .5],
         [.5, -.5, .5],
         [0, 0, 1]],
        [[1, 1, 1, 0],
         [0, 1, -1, -1]]),
    4: ([[4, 0, -5, 0, 1, 0],
         [0, -4, -4, 1, 1, 0],
         [0, 4, -4, -1, 1, 0],
         [0, -2, -1, 2, 1, 0],
         [0, 2, -1, -2, 1, 0],
         [0, 4, 0, -5, 0, 1]],
        [[1 / 4, 0, 0],
         [-1 / 6, -1 / 6, -1 / 6],
         [-1 / 6, 1 / 6, -1 / 6],
         [1 / 24, 1 / 12, 1 / 6],
         [1 / 24, -1 / 12, 1 / 6],
         [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0],
         [0, 1, -1, 2, -2, 0],
         [0, 1, 1, 4, 4, 0],
         [0, 1, -1, 8, -8, 1]]),
}

#: Output cells per tile side: F(2x2, 3x3). F(4x4, 3x3) does 2.25 times
#: fewer products still, but its float32 error against a float64 truth
#: is up to 40 times the im2col path's at VGG16's layers at 600 x 800
#: (3e-6 to 2e-5 of the largest value, against 3e-7 to 2e-6), where
#: F(2x2)'s is 0.45 to 1.95 times it (its weight gradient up to 3.0
#: times, see :data:`GRAD_WEIGHT_MIN_TILES`), at most 8e-7
#: (bench/conv.py --error --f4; F(2x2) also under the OpenBLAS kernels
#: Haswell, Zen and Sandybridge, 1 and 2 threads).
TILE = 2

#: Bytes of one part's buffers for a band (a row of input tiles before
#: and after B, a row of products, the output half transformed): they
#: stay in cache through a band's transforms while its GEMMs still see a
#: few hundred tiles. 2 to 16 MB measured within noise of each other at
#: 128 to 512 channels (VGG16 at 600 x 800, 2-core development machine).
BAND_BYTES = 4 << 20
#: The fewest tiles in a band, whatever its bytes: a GEMM over fewer
#: columns runs at half the BLAS's speed (16 products of 256 x 256 by
#: 256 x 128: 34 GFLOP/s on one core, against 67 with 512 columns).
BAND_MIN_TILES = 128
#: The weight gradient's bands have at least this many tiles: its GEMMs
#: run over the tiles (``(O x P) @ (P x C)``), so a band's tiles are the
#: product's inner dimension and each band adds a whole ``O x C`` product
#: into ``gU``. The weight gradient at 128 and at 1024 tiles, VGG16 at
#: 600 x 800 (``bench/conv.py --winograd``, 2-core development machine):
#: conv3_2 202 -> 190 ms, conv4_2 188 -> 145, conv5_2 52 -> 43; 2048
#: measured within noise of 1024. Longer sums inside each GEMM: its
#: float32 error against a float64 truth rose from 1.2-1.9 to 1.7-3.0
#: times the im2col path's at conv3_1 .. conv5_3 (at most 7.1e-7 of the
#: largest value; ``bench/conv.py --error``, one run each).
GRAD_WEIGHT_MIN_TILES = 1024
#: ... but no more tiles than fit in this many bytes of band buffers
#: (both parts together; never fewer than :data:`BAND_MIN_TILES`): 58 MB
#: at 512 channels, and a 2048-channel layer would need 235 MB.
GRAD_WEIGHT_MAX_BYTES = 64 << 20

#: The measured rule (:func:`pays`): Winograd where both channel counts
#: are at least MIN_CHANNELS and the outputs have MIN_CELLS cells in all.
#: ``bench/conv.py --winograd`` (VGG16 at 600 x 800) and ``--resnet``, on
#: the 2-core development machine, time of Winograd / time of im2col for
#: forward, gx, gW: 64 channels at 600 x 800 (conv1_2) 0.98, 0.94, 1.00,
#: at 150 x 200 (ResNet res2) 0.87, 1.06, 1.06: no gain; 128 channels at
#: 150 x 200 (conv3_1) 0.90, 0.74, 0.95; 256 and 512 channels 0.65 to
#: 0.97 at every VGG16 layer; 256 channels at 38 x 50 (res4, 1900 cells)
#: 0.92, 0.84, 0.97; 512 channels at 12 x 16 (192 cells, a 96 x 128
#: input) 1.4 to 1.9 and 256 at 24 x 32 (768 cells) 0.9 to 2: a loss.
#: 128 RoIs of 7 x 7 at 512 channels (ResNet's head) 0.88, 0.84, 0.62.
MIN_CHANNELS = 128
MIN_CELLS = 1024


def applies(kernel, stride):
    """Whether Winograd can compute this convolution at all: a 3 x 3
    kernel at stride 1 (any padding below 3, any size)."""
    return tuple(kernel) == (3, 3) and tuple(stride) == (1, 1)


def pays(n, c_in, c_out, out_h, out_w):
    """The measured rule: whether Winograd beats the im2col path for a
    3 x 3 stride-1 layer of ``c_in`` to ``c_out`` channels and ``n``
    outputs of ``out_h x out_w`` cells.

    Its products shrink with the channels (``C_in * C_out`` each) but its
    transforms only with the cells (``C_in + C_out`` each), so the
    narrow layers stay with im2col; small outputs too, where the fixed
    cost (the kernel's transform, the bands) outweighs the saving. The
    measurements: :data:`MIN_CHANNELS`.
    """
    return (min(c_in, c_out) >= MIN_CHANNELS and
            n * out_h * out_w >= MIN_CELLS)


def _transform_rows(matrix, source, out, scratch):
    """``out[i] = sum_k matrix[i][k] * source(k)`` for every row ``i``.

    ``source(k)`` gives an array (any strides) and ``out[i]`` is written
    in place; zero coefficients are skipped and +-1 ones are an addition,
    so F(2x2)'s input transform is nothing but additions. ``scratch`` is
    a buffer of ``out[0]``'s shape for the other coefficients.
    """
    for i, row in enumerate(matrix):
        terms = [(c, k) for k, c in enumerate(row) if c != 0]
        # +1, then -1, then the rest: the first two terms in one pass
        # (an addition or a subtraction) when both are +-1.
        terms.sort(key=lambda term: (abs(term[0]) != 1, term[0] != 1))
        c0, k0 = terms[0]
        start = 1
        if len(terms) > 1 and c0 == 1 and abs(terms[1][0]) == 1:
            op = numpy.add if terms[1][0] == 1 else numpy.subtract
            op(source(k0), source(terms[1][1]), out=out[i])
            start = 2
        elif c0 == 1:
            numpy.copyto(out[i], source(k0))
        else:
            numpy.multiply(source(k0), c0, out=out[i])
        for c, k in terms[start:]:
            if c == 1:
                out[i] += source(k)
            elif c == -1:
                out[i] -= source(k)
            else:
                numpy.multiply(source(k), c, out=scratch)
                out[i] += scratch


def _tiles(size, m):
    """Tiles of ``m`` output cells covering ``size``."""
    return -(-size // m)


def _phases(x, pad, rows, cols, m):
    """``x`` zero-padded, in ``m x m`` phases: ``(N, C, m, rows, m, cols)``
    with ``out[:, :, p, r, q, s]`` the padded input's cell ``(m r + p,
    m s + q)`` (``pad`` zeros before ``x``, zeros after it).

    Each tile cell ``(k, j)`` of a row of tiles is then a slice whose
    last axis is contiguous: NumPy's additions run about three times
    faster on it than on every m-th value of a row (the transforms' main
    cost). Built in the one pass that pads, by slices of the channels on
    every core, zeros written only where ``x`` does not reach (a pass
    over memory that was half of it: conv2_2's input at 600 x 800, 55 ms
    on one core, bench/conv.py).
    """
    n, c, h, w = x.shape
    out = numpy.empty((n, c, m, rows, m, cols), dtype=x.dtype)
    # Per phase (p, q): the rows [r0, r1) and columns [s0, s1) that x
    # fills, and where they start in x.
    plan = []
    for p in range(m):
        r0 = min(rows, max(0, -(-(pad[0] - p) // m)))  # first row inside x
        y0 = m * r0 + p - pad[0]
        r1 = r0 + max(0, min(rows - r0, -(-(h - y0) // m)))
        for q in range(m):
            s0 = min(cols, max(0, -(-(pad[1] - q) // m)))
            x0 = m * s0 + q - pad[1]
            s1 = s0 + max(0, min(cols - s0, -(-(w - x0) // m)))
            plan.append((p, q, r0, r1, y0, s0, s1, x0))

    def work(c0, c1):
        for p, q, r0, r1, y0, s0, s1, x0 in plan:
            o = out[:, c0:c1, p, :, q, :]
            o[:, :, :r0] = 0
            o[:, :, r1:] = 0
            o[:, :, r0:r1, :s0] = 0
            o[:, :, r0:r1, s1:] = 0
            if r1 > r0 and s1 > s0:
                o[:, :, r0:r1, s0:s1] = x[:, c0:c1, y0:y0 + m * (r1 - r0):m,
                                          x0:x0 + m * (s1 - s0):m]
    # Parts of at least 1 MB: a small input is copied on one core.
    run_slices_by_size(work, c, out.nbytes, 1 << 20)
    return out


def _split(total, parts):
    """``[(start, size)]``: ``total`` in ``parts`` near-equal runs, the
    largest first (buffers are sized by the first)."""
    sizes = [total // parts + (k < total % parts) for k in range(parts)]
    starts = numpy.cumsum([0] + sizes[:-1])
    return [(int(start), size) for start, size in zip(starts, sizes)]


def _bands(n, th, tw, per_tile_bytes, parts, min_tiles=None):
    """``[(first image, images, first tile row, tile rows)]`` covering
    every tile of every image, in bands of about :data:`BAND_BYTES`
    (``per_tile_bytes`` each tile) and at least ``min_tiles`` tiles
    (None: :data:`BAND_MIN_TILES`): rows of one image when an image has
    that many tiles, else whole images together (a batch of small ones:
    RoIs in a head). Their count is a multiple of ``parts`` where it can
    be, so that the parts get equal work."""
    tiles = max(BAND_BYTES // per_tile_bytes,
                min_tiles or BAND_MIN_TILES)
    if th * tw >= tiles or n == 1:
        per_image = -(-th * tw // tiles)
        if n == 1 and per_image > 1 and parts > 1:
            per_image = -(-per_image // parts) * parts
        per_image = max(1, min(per_image, th))
        return [(i, 1, r0, rows) for i in range(n)
                for r0, rows in _split(th, per_image)]
    count = -(-n * th * tw // tiles)
    if parts > 1:
        count = -(-count // parts) * parts
    return [(i0, images, 0, th) for i0, images in _split(n, min(count, n))]


def _input_row(xq, band, tw, m, i, T, V, scratch):
    """Row ``i`` of the band's transformed input tiles:
    ``V[j] = (B^T d B)[i, j]`` for every ``j``.

    ``(B^T d)[i]`` is computed once over the band's padded columns (their
    ``m`` phases, ``tw + 1`` each) and each tile column ``j`` read from it
    at its offset: neighbouring tiles share ``a - m`` columns, which the
    row transform would otherwise compute again for each (F(2x2): 2 tw +
    2 values a row against 4 tw). Each value is the same sum of the same
    terms either way, so the same bits.

    Args:
        xq (numpy.ndarray): ``(N, C, m, th + 1, m, tw + 1)`` the padded
            input in phases (:func:`_phases`).
        band (tuple): ``(first image, images, first tile row, tile rows)``
            (``ni`` images, ``rows`` rows below).
        tw (int): tiles across.
        m (int): output cells per tile side.
        i (int): the row of the tile cells.
        T (numpy.ndarray): flat buffer of at least :func:`_row_values`
            values (``(B^T d)[i]`` and its scratch).
        V (numpy.ndarray): ``(a, C, ni, rows, tw)`` result.
        scratch (numpy.ndarray): flat buffer of at least ``C * ni * rows *
            tw`` values.
    """
    bt = MATRICES[m][0]
    i0, ni, r0, rows = band
    c = xq.shape[1]
    size = ni * c * rows * m * (tw + 1)
    t = T[:size].reshape(ni, c, rows, m, tw + 1)

    def padded_row(k):
        # Row k of every tile in the band over every padded column:
        # (ni, C, rows, m, tw + 1), the rows m (r0 + t) + k.
        r = r0 + k // m
        return xq[i0:i0 + ni, :, k % m, r:r + rows]

    def column(j):
        # Column j of every tile: (C, ni, rows, tw), columns m u + j.
        return t[:, :, :, j % m, j // m:j // m + tw].transpose(1, 0, 2, 3)

    _transform_rows([bt[i]], padded_row, [t],
                    T[size:2 * size].reshape(t.shape))
    _transform_rows(bt, column, V, scratch.reshape(V.shape[1:]))


def _row_values(c, tile_rows, tw, m):
    """Values of :func:`_input_row`'s ``T`` for ``tile_rows`` rows of
    tiles (of every image of a band) of ``c`` channels."""
    return 2 * c * tile_rows * m * (tw + 1)


def _accumulate(out, coefficient, value, started):
    """``out (+)= coefficient * value``: ``=`` when not ``started``."""
    if coefficient == 0:
        return
    if not started:
        numpy.multiply(value, coefficient, out=out)
    elif coefficient == 1:
        out += value
    elif coefficient == -1:
        out -= value
    else:
        out += coefficient * value


def _quiet(work):
    """``work`` with NumPy's warnings on inf and NaN off, in whatever
    thread runs it (the setting is per thread): like the im2col path's
    GEMM, a non-finite input gives non-finite outputs, silently (the
    training's guard looks at the loss)."""
    def run(*args):
        with numpy.errstate(invalid='ignore', over='ignore'):
            return work(*args)
    return run


def _by_output_channels(work, c_out):
    """Run ``work(o0, o1)`` over slices of the output channels, on every
    core (the filter transforms: 4 M values for 512 x 512 channels)."""
    run_slices(_quiet(work), c_out, min(cpu_threads(), max(1, c_out // 64)))


def _filter_transform(W, m):
    """``U = G g G^T``: ``(a, a, O, C)`` in ``W``'s dtype.

    By slices of whole ``(O, C)`` planes, as the tiles: F(2x2)'s ``G``
    holds 0, +-1/2 and 1, so this is additions and halvings, a small
    share of a call even for 512 channels (a float64 ``tensordot`` took
    longer than the convolution itself at 37 x 50).
    """
    g = MATRICES[m][1]
    a = m + 2
    c_out, c = W.shape[:2]
    U = numpy.empty((a, a, c_out, c), dtype=W.dtype)

    def work(o0, o1):
        planes = numpy.ascontiguousarray(W[o0:o1].transpose(2, 3, 0, 1))
        half = numpy.empty((a,) + planes.shape[1:], dtype=W.dtype)
        scratch = numpy.empty(planes.shape[2:], dtype=W.dtype)
        for j in range(3):
            _transform_rows(g, lambda k: planes[k, j],
                            [half[i, j] for i in range(a)], scratch)
        for i in range(a):
            _transform_rows(g, lambda k: half[i, k],
                            [U[i, j, o0:o1] for j in range(a)], scratch)
    _by_output_channels(work, c_out)
    return U


def _filter_transform_back(gU, m):
    """``G^T gU G``: ``(O, C, 3, 3)`` from ``gU`` ``(a, a, O, C)``."""
    gt = [list(col) for col in zip(*MATRICES[m][1])]     # G^T: (3, a)
    a, _, c_out, c = gU.shape
    gW = numpy.empty((c_out, c, 3, 3), dtype=gU.dtype)

    def work(o0, o1):
        half = numpy.empty((3, a, o1 - o0, c), dtype=gU.dtype)
        planes = numpy.empty((3, 3, o1 - o0, c), dtype=gU.dtype)
        scratch = numpy.empty((o1 - o0, c), dtype=gU.dtype)
        for j in range(a):
            _transform_rows(gt, lambda k: gU[k, j, o0:o1],
                            [half[i, j] for i in range(3)], scratch)
        for i in range(3):
            _transform_rows(gt, lambda k: half[i, k], planes[i], scratch)
        gW[o0:o1] = planes.transpose(2, 3, 0, 1)
    _by_output_channels(work, c_out)
    return gW


def forward(x, W, b, pad, tile=None, relu=False):
    """The 3 x 3, stride-1 convolution, and with ``relu`` its ReLU.

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` float32 or float64 input.
        W (numpy.ndarray): ``(O, C, 3, 3)`` kernel, same dtype.
        b (numpy.ndarray or None): ``(O,)`` bias.
        pad (tuple): ``(ph, pw)`` zero padding on each side (below 3).
        tile (int or None): ``m`` of F(m x m, 3 x 3), 2 or 4; None is
            :data:`TILE`.
        relu (bool): ``max(y, 0)`` (``numpy.maximum``, as Chainer's ReLU).

    Returns:
        numpy.ndarray: ``(N, O, H + 2 ph - 2, W + 2 pw - 2)``, ``x``'s
        dtype.

    Each output cell is ``A^T (...) A``'s sum, then ``+ b``, then the
    ReLU, whatever the band: the same operations in the same order as
    the sum written to ``y`` and the bias and ReLU added over ``y``
    afterwards, so the same bits. They run on the band's contiguous
    buffer, one copy into ``y``'s every m-th cell at the end: NumPy
    adds about twice as fast there as into those strided cells (a sum
    of three (256, 75, 100) float32 arrays: 10.1 ms strided, 5.3 ms
    contiguous and copied, one core), and ``y`` is written once, not
    read back twice for the bias and the ReLU.
    """
    m = tile or TILE
    a = m + 2
    n, c, h, w = x.shape
    c_out = W.shape[0]
    out_h, out_w = h + 2 * pad[0] - 2, w + 2 * pad[1] - 2
    y = numpy.empty((n, c_out, out_h, out_w), dtype=x.dtype)
    if y.size == 0:
        return y
    th, tw = _tiles(out_h, m), _tiles(out_w, m)
    xq = _phases(x, pad, th + 1, tw + 1, m)
    U = _filter_transform(W, m)
    at = MATRICES[m][2]
    threads = cpu_threads()
    # A part's buffers per tile: one row of input tiles before and after
    # B (T, V), its products (Mi) and the output half-transformed (S).
    per_tile = (2 * a * c + a * c_out + m * a * c_out) * x.itemsize
    bands = _bands(n, th, tw, per_tile, threads)
    n_parts = min(threads, len(bands))
    band_tiles = bands[0][1] * bands[0][3] * tw
    bias = None if b is None else b.reshape(1, c_out, 1, 1)

    def part(p):
        # Each part's own buffers, reused band after band.
        T = numpy.empty(_row_values(c, band_tiles // tw, tw, m),
                        dtype=x.dtype)
        V = numpy.empty(a * c * band_tiles, dtype=x.dtype)
        Mi = numpy.empty(a * c_out * band_tiles, dtype=x.dtype)
        S = numpy.empty(m * a * c_out * band_tiles, dtype=x.dtype)
        scratch = numpy.empty(max(c, c_out) * band_tiles, dtype=x.dtype)
        # One output cell (i, j) of every tile of the band, contiguous.
        Yc = numpy.empty(c_out * band_tiles, dtype=x.dtype)
        for band in bands[p::n_parts]:
            i0, ni, r0, rows = band
            tiles = ni * rows * tw
            v = V[:a * c * tiles].reshape(a, c, ni, rows, tw)
            mi = Mi[:a * c_out * tiles].reshape(a, c_out, tiles)
            s = S[:m * a * c_out * tiles].reshape(m, a, c_out, ni, rows, tw)
            started = [False] * m
            # Row by row of the tile cells, so that only one row of the
            # transformed tiles and products is ever held: S = A^T M,
            # summed as the rows of M come.
            for i in range(a):
                _input_row(xq, band, tw, m, i, T, v, scratch[:c * tiles])
                # The product goes straight to the first S[r] it starts
                # (a copy saved), else to its own buffer.
                first = [r for r in range(m)
                         if at[r][i] == 1 and not started[r]][:1]
                mr = s[first[0]] if first else \
                    mi.reshape(a, c_out, ni, rows, tw)
                numpy.matmul(U[i], v.reshape(a, c, tiles),
                             out=mr.reshape(a, c_out, tiles))
                for r in range(m):
                    if first and r == first[0]:
                        started[r] = True
                        continue
                    _accumulate(s[r], at[r][i], mr, started[r])
                    started[r] = started[r] or at[r][i] != 0
            # Y = S A straight into y, cropped at the output's edge.
            y0 = r0 * m
            for i in range(m):
                n_rows = min(rows, _tiles(out_h - y0 - i, m))
                for j in range(m):
                    n_cols = _tiles(out_w - j, m)
                    if n_rows <= 0 or n_cols <= 0:
                        continue
                    out = y[i0:i0 + ni, :, y0 + i:y0 + i + m * n_rows:m,
                            j:j + m * n_cols:m]
                    cell = Yc[:out.size].reshape(out.shape)
                    _transform_rows(
                        [at[j]], lambda k: s[i, k, :, :, :n_rows, :n_cols]
                        .transpose(1, 0, 2, 3),
                        [cell], scratch[:out.size].reshape(out.shape))
                    if bias is not None:
                        cell += bias
                    if relu:
                        numpy.maximum(cell, 0, out=cell)
                    out[...] = cell
    run_parallel(_quiet(part), n_parts, blas=1 if n_parts > 1 else None)
    return y


def _grad_weight_tiles(per_tile_bytes):
    """The fewest tiles of a weight-gradient band (``per_tile_bytes`` of
    buffers each): :data:`GRAD_WEIGHT_MIN_TILES` within
    :data:`GRAD_WEIGHT_MAX_BYTES`, at least :data:`BAND_MIN_TILES`."""
    return max(BAND_MIN_TILES, min(GRAD_WEIGHT_MIN_TILES,
                                   GRAD_WEIGHT_MAX_BYTES // per_tile_bytes))


def grad_weight(x, gy, pad, tile=None):
    """``gW`` of the 3 x 3, stride-1 convolution.

    The forward is linear in ``U = G g G^T``, so its transpose sends
    ``gy`` back through the same transforms: ``gU = sum over tiles of
    (A gy A^T) (.) (B^T d B)``, one GEMM ``(O x P) @ (P x C)`` per tile
    cell ``(i, j)``, and ``gW = G^T gU G`` (Lavin & Gray 2016, section 4
    and the training note of section 5).

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` input of the forward.
        gy (numpy.ndarray): ``(N, O, H', W')`` gradient of its output.
        pad (tuple): ``(ph, pw)`` of the forward.
        tile (int or None): ``m`` of F(m x m, 3 x 3); None is :data:`TILE`.

    Returns:
        numpy.ndarray: ``(O, C, 3, 3)``, ``x``'s dtype.
    """
    m = tile or TILE
    a = m + 2
    n, c, h, w = x.shape
    _, c_out, out_h, out_w = gy.shape
    th, tw = _tiles(out_h, m), _tiles(out_w, m)
    if n == 0 or th == 0 or tw == 0:
        return numpy.zeros((c_out, c, 3, 3), dtype=x.dtype)
    xq = _phases(x, pad, th + 1, tw + 1, m)
    # The output gradient on whole tiles: zeros past the output's edge
    # (cells the forward computed and dropped).
    gyq = _phases(gy, (0, 0), th, tw, m)
    at = MATRICES[m][2]
    a_rows = [list(col) for col in zip(*at)]         # A: (a, m)
    threads = cpu_threads()
    # The parts share the tile cells (i, j), not the bands: each sums its
    # own cells' GEMMs over every band into gU, so no part needs a gU of
    # its own. Contiguous runs of cells, so that a part transforms the
    # input rows i of its cells only (whole rows when a divides evenly).
    n_parts = max(1, min(threads, a))
    cells = numpy.array_split(numpy.arange(a * a), n_parts)
    # Per tile, each part holds one row of input tiles before and after B
    # (T, V) and of output-gradient tiles before and after A (Zt, Z).
    per_tile = (2 * a * c + (m + a) * c_out) * x.itemsize * n_parts
    bands = _bands(n, th, tw, per_tile, 1, _grad_weight_tiles(per_tile))
    band_tiles = bands[0][1] * bands[0][3] * tw
    gU = numpy.zeros((a, a, c_out, c), dtype=x.dtype)

    def part(p):
        own = [(int(k) // a, int(k) % a) for k in cells[p]]
        T = numpy.empty(_row_values(c, band_tiles // tw, tw, m),
                        dtype=x.dtype)
        V = numpy.empty(a * c * band_tiles, dtype=x.dtype)
        Zt = numpy.empty(m * c_out * band_tiles, dtype=x.dtype)
        Z = numpy.empty(a * c_out * band_tiles, dtype=x.dtype)
        scratch = numpy.empty(max(c, c_out) * band_tiles, dtype=x.dtype)
        product = numpy.empty((c_out, c), dtype=x.dtype)
        for band in bands:
            i0, ni, r0, rows = band
            tiles = ni * rows * tw
            v = V[:a * c * tiles].reshape(a, c, ni, rows, tw)
            zt = Zt[:m * c_out * tiles].reshape(m, c_out, ni, rows, tw)
            z = Z[:a * c_out * tiles].reshape(a, c_out, ni, rows, tw)
            sc = scratch[:c_out * tiles].reshape(ni, c_out, rows, tw)

            def cell(u, j):
                # Output-gradient cell (u, j) of every tile in the band:
                # (ni, O, rows, tw).
                return gyq[i0:i0 + ni, :, u, r0:r0 + rows, j, :]
            for i in sorted({i for i, _ in own}):
                _input_row(xq, band, tw, m, i, T, v, scratch[:c * tiles])
                # Z = (A gy A^T)[i]
                for j in range(m):
                    _transform_rows([a_rows[i]], lambda u: cell(u, j),
                                    [zt[j].transpose(1, 0, 2, 3)], sc)
                _transform_rows(a_rows, lambda u: zt[u], z,
                                sc.reshape(z.shape[1:]))
                for _, j in (cell_ for cell_ in own if cell_[0] == i):
                    numpy.matmul(z[j].reshape(c_out, tiles),
                                 v[j].reshape(c, tiles).T, out=product)
                    gU[i, j] += product
    run_parallel(_quiet(part), n_parts, blas=1 if n_parts > 1 else None)
    return _filter_transform_back(gU, m)
