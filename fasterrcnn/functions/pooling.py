"""Max pooling over non-overlapping windows, fast on the CPU.

Chainer's CPU ``max_pooling_2d`` builds the im2col array of the windows
and takes its arg-max: 480 ms forward and 1.2 s with the backward for
pool1 of VGG16 at 600 x 800 (64 x 600 x 800), measured by bench/conv.py.
When the window equals the stride and there is no padding (VGG16's 2 x 2 /
2), each window's cells are ``k * k`` strided views of the input, so the
maximum is ``k * k - 1`` elementwise ``maximum`` calls and the arg-max one
byte per output cell.

:func:`max_pooling_2d` has the arguments and results of
``chainer.functions.max_pooling_2d``, arg-max rule included: the first
cell of the window (row by row) holding the maximum gets the gradient, and
a NaN counts as the maximum (NumPy's ``argmax``, which Chainer uses, and
torch's ``max_pool2d``). Other windows, strides, paddings and every GPU
array go to Chainer's own.
"""

import chainer
import chainer.functions as F
import numpy
from chainer import function_node

from fasterrcnn.cpu_threads import kernels_enabled, run_slices_by_size

#: Bytes of the input a part of a call must have before the call is split
#: over the cores (each part a slice of the channels): the passes are
#: memory-bound strided copies, and below a few MB the hand-over to the
#: pool costs more than the second core saves.
PARALLEL_BYTES = 4 << 20


def _by_channels(work, x):
    """``work(c0, c1)`` for slices of the channels of ``x`` ``(N, C, H,
    W)``, on every core when ``x`` is large. Every value is computed by the
    same operations whatever the slices, so the split changes no bit."""
    run_slices_by_size(work, x.shape[1], x.nbytes, PARALLEL_BYTES)


def supported(x, ksize, stride, pad):
    if not kernels_enabled():
        return False
    x = getattr(x, 'array', x)
    return (isinstance(x, numpy.ndarray) and x.ndim == 4 and
            x.dtype.kind == 'f' and _pair(ksize) == _pair(stride) and
            _pair(pad) == (0, 0))


def _pair(value):
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _window_views(a, k):
    """The ``kh * kw`` strided views ``a[:, :, i::kh, j::kw]`` of a
    ``(N, C, H' kh, W' kw)`` array, in window order (row by row)."""
    kh, kw = k
    return [a[:, :, i::kh, j::kw] for i in range(kh) for j in range(kw)]


def _first_max_cells(cells, ys):
    """Yield ``(i, takes)`` for each window cell ``i`` (of ``cells``, the
    strided views of :func:`_window_views`): ``takes`` is True where cell
    ``i`` is the one that gets the output's gradient, the first equal to
    the maximum ``ys`` or the first NaN (Chainer's and torch's rule); the
    last cell takes what no other did, True where the window has one cell.
    Each ``takes`` is valid until the next is yielded (the buffers are
    reused)."""
    has_nan = bool(numpy.isnan(ys).any())
    hit = numpy.empty(ys.shape, dtype=bool)
    free = numpy.empty(ys.shape, dtype=bool)   # no earlier cell took it
    last = len(cells) - 1
    for i in range(last):
        numpy.equal(cells[i], ys, out=hit)
        if has_nan:
            hit |= numpy.isnan(cells[i])
        if i:
            hit &= free
        yield i, hit
        if i:
            free &= ~hit
        else:
            numpy.logical_not(hit, out=free)
    yield last, free if last else True


def _first_max_index(x_full, y, ksize):
    """``int8`` window position (row by row) of the cell that gets each
    output's gradient (:func:`_first_max_cells`)."""
    index = numpy.empty(y.shape, dtype=numpy.int8)

    def work(c0, c1):
        cells = _window_views(x_full[:, c0:c1], ksize)
        out = index[:, c0:c1]
        for i, takes in _first_max_cells(cells, y[:, c0:c1]):
            numpy.copyto(out, i, where=takes)
    _by_channels(work, x_full)
    return index


def _first_max_grad(x_full, y, gy, ksize):
    """``gx`` ``x_full.shape``: each output's gradient ``gy`` to the cell
    of its window that :func:`_first_max_cells` picks, zero elsewhere;
    :class:`MaxPooling2DGrad` of :func:`_first_max_index`, the same bits
    (``gy`` times a bool), without the index or a graph node: 1.4 ms for
    the demo's four poolings where the index and its node took 4.4
    (2-core development machine).
    """
    full = numpy.empty(x_full.shape, dtype=gy.dtype)

    def work(c0, c1):
        cells = _window_views(x_full[:, c0:c1], ksize)
        grads = _window_views(full[:, c0:c1], ksize)
        gys = gy[:, c0:c1]
        for i, takes in _first_max_cells(cells, y[:, c0:c1]):
            numpy.multiply(gys, takes, out=grads[i])
    _by_channels(work, x_full)
    return full


def _full(x, shape, fill):
    """``x`` cut or padded (with ``fill``) to ``(N, C) + shape``."""
    h, w = shape
    if x.shape[2] >= h and x.shape[3] >= w:
        return x[:, :, :h, :w]
    out = numpy.full(x.shape[:2] + (h, w), fill, dtype=x.dtype)
    rows, cols = min(h, x.shape[2]), min(w, x.shape[3])
    out[:, :, :rows, :cols] = x[:, :, :rows, :cols]
    return out


class MaxPooling2D(function_node.FunctionNode):
    """``(N, C, H, W)`` to ``(N, C, H', W')``: the maximum of each
    ``kh x kw`` window at stride ``(kh, kw)``.

    ``cover_all`` (Chainer's default) pools the last partial window (its
    missing cells count as -inf); otherwise it is dropped. The forward
    keeps no arg-max: the backward finds it from the input and output,
    which the neighbouring ReLU and convolution keep anyway, so a pooling
    in no-backprop mode (VGG16's frozen blocks, ``predict``) costs its
    ``maximum`` calls only (pool1 at 600 x 800: 90 ms, from 360 ms when
    the forward also found the arg-max, bench/conv.py).
    """

    def __init__(self, ksize, cover_all=True):
        self.ksize = _pair(ksize)
        self.cover_all = cover_all

    def _full_shape(self, shape):
        (h, w), (kh, kw) = shape[2:], self.ksize
        if self.cover_all:
            return -(-h // kh) * kh, -(-w // kw) * kw
        return h // kh * kh, w // kw * kw

    def forward_cpu(self, inputs):
        x, = inputs
        shape = self._full_shape(x.shape)
        if 0 in shape:
            # Chainer's functions fail here too (an assertion).
            raise ValueError(
                'max pooling: a {}x{} input has no whole {}x{} window'.format(
                    x.shape[2], x.shape[3], *self.ksize))
        self.retain_inputs((0,))
        self.retain_outputs((0,))
        full = _full(x, shape, -numpy.inf)
        kh, kw = self.ksize
        y = numpy.empty(x.shape[:2] + (shape[0] // kh, shape[1] // kw),
                        dtype=x.dtype)

        def work(c0, c1):
            views = _window_views(full[:, c0:c1], self.ksize)
            out = y[:, c0:c1]
            numpy.copyto(out, views[0])
            for view in views[1:]:
                numpy.maximum(out, view, out=out)
        _by_channels(work, full)
        return y,

    def backward(self, indexes, grad_outputs):
        if chainer.config.enable_backprop:
            return self._backward_graph(grad_outputs)
        # A training step's backward: nothing differentiates gx again.
        return self._backward_arrays(grad_outputs)

    def _retained_full(self):
        x, = self.get_retained_inputs()
        y, = self.get_retained_outputs()
        return x.shape, _full(x.array, self._full_shape(x.shape),
                              -numpy.inf), y.array

    def _backward_graph(self, grad_outputs):
        """``gx`` as a node of the graph (differentiable again)."""
        shape, full, y = self._retained_full()
        index = _first_max_index(full, y, self.ksize)
        return MaxPooling2DGrad(index, self.ksize, shape).apply(
            grad_outputs)

    def _backward_arrays(self, grad_outputs):
        """``gx`` of :meth:`_backward_graph`, the same bits, on the
        arrays (:func:`_first_max_grad`)."""
        shape, full, y = self._retained_full()
        gy, = grad_outputs
        gx = _first_max_grad(full, y, gy.array, self.ksize)
        return chainer.Variable(_full(gx, shape[2:], 0)),


class MaxPooling2DGrad(function_node.FunctionNode):
    """``gx`` ``in_shape`` from ``gy``: each output's gradient to its
    window's cell ``index`` (``int8``, row by row), zero elsewhere."""

    def __init__(self, index, ksize, in_shape):
        self.index, self.ksize, self.in_shape = index, ksize, in_shape

    def forward_cpu(self, inputs):
        gy, = inputs
        out_h, out_w = gy.shape[2:]
        kh, kw = self.ksize
        full = numpy.empty(gy.shape[:2] + (out_h * kh, out_w * kw),
                           dtype=gy.dtype)

        def work(c0, c1):
            hit = numpy.empty(gy[:, c0:c1].shape, dtype=bool)
            views = _window_views(full[:, c0:c1], self.ksize)
            for i, view in enumerate(views):
                numpy.equal(self.index[:, c0:c1], i, out=hit)
                numpy.multiply(gy[:, c0:c1], hit, out=view)
        _by_channels(work, full)
        return _full(full, self.in_shape[2:], 0),

    def backward(self, indexes, grad_outputs):
        return MaxPoolingGather(self).apply(grad_outputs)


class MaxPoolingGather(function_node.FunctionNode):
    """The value at each window's gradient cell of an input-shaped array
    (the adjoint of :class:`MaxPooling2DGrad`)."""

    def __init__(self, grad):
        self.grad = grad

    def forward_cpu(self, inputs):
        ggx, = inputs
        g = self.grad
        kh, kw = g.ksize
        out_h, out_w = g.index.shape[2:]
        full = _full(ggx, (out_h * kh, out_w * kw), 0)
        ggy = numpy.zeros(g.index.shape, dtype=ggx.dtype)
        for i, view in enumerate(_window_views(full, g.ksize)):
            numpy.copyto(ggy, view, where=g.index == i)
        return ggy,

    def backward(self, indexes, grad_outputs):
        return MaxPooling2DGrad(self.grad.index, self.grad.ksize,
                                self.grad.in_shape).apply(grad_outputs)


def max_pooling_2d(x, ksize, stride=None, pad=0, cover_all=True,
                   return_indices=False):
    """``chainer.functions.max_pooling_2d``, fast on the CPU when the
    window equals the stride and there is no padding.

    Args:
        x (chainer.Variable or array): ``(N, C, H, W)``.
        ksize, stride, pad, cover_all, return_indices: as in Chainer
            (``stride`` None: ``ksize``).

    Returns:
        chainer.Variable: ``(N, C, H', W')``.
    """
    if stride is None:
        stride = ksize
    if return_indices or not supported(x, ksize, stride, pad):
        return F.max_pooling_2d(x, ksize, stride, pad, cover_all=cover_all,
                                return_indices=return_indices)
    y, = MaxPooling2D(ksize, cover_all).apply((x,))
    return y
