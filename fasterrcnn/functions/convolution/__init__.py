"""2-D convolution: Chainer's semantics, near the BLAS's speed on the CPU.

* :func:`convolution_2d` has the arguments and results of
  ``chainer.functions.convolution_2d``. On the CPU, for the cases it
  covers (:func:`supported`: float32 / float64, dilation 1, one group, no
  ``cover_all``, padding below the kernel size) it runs
  :class:`Convolution2D`; everything else, and every GPU array (cuDNN),
  goes to Chainer's own.
* :class:`Convolution2D` and :class:`Convolution2DGradW` are the
  FunctionNodes; ``numpy_impl`` computes. The input gradient is the
  convolution of the output gradient (dilated by the stride, padded by
  ``k - 1 - p``) with the flipped, transposed kernel, so it runs on the same
  tiles, and every gradient is itself differentiable (double backprop).
* 3 x 3 stride-1 calls where it measured faster (VGG16's and ResNet's
  wide layers) compute by Winograd's minimal filtering (``winograd``),
  forward and both gradients; :func:`winograd_mode` says where and how to
  switch it.

Results equal Chainer's to float rounding: the same products, summed in
another order by the GEMM; Winograd's transforms add their own rounding
(float32 error against a float64 truth within about twice the im2col
path's at every VGG16 layer, ``bench/conv.py --error``).
"""

import os

import chainer
import chainer.functions as F
import numpy
from chainer import function_node, utils
from chainer.functions.activation.relu import ReLUGrad2

from fasterrcnn.cpu_threads import (kernels_enabled, run_side_by_side,
                                    side_by_side_pays)
from fasterrcnn.functions.convolution import numpy_impl

#: Inputs below this many bytes have their input and weight gradients
#: computed side by side (``cpu_threads.side_by_side_pays``) rather than
#: each split over the cores. A training iteration of the demo's model
#: (its largest input 1.5 MB), 200 alternating with and without: 6.3 to
#: 7.0 ms faster (of 85 to 100 ms); VGG16's at 600 x 800 (inputs of 3.8
#: MB and more): within the noise (+60 +- 62 ms of 4.9 s), and its
#: large gradients' buffers all at once would add to the peak memory.
SIDE_BY_SIDE_BYTES = 4 << 20


def _pair(value):
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


#: The environment variable that sets :func:`winograd_mode`'s default
#: (so that a benchmark's child processes inherit it).
WINOGRAD_ENV = 'FASTERRCNN_WINOGRAD'


def winograd_mode():
    """Where 3 x 3 stride-1 convolutions use Winograd's algorithm:
    ``'auto'`` (the default: where ``winograd.pays``, a measured rule),
    ``'always'`` or ``'never'`` (the im2col + GEMM path everywhere).

    Set by ``chainer.config.fasterrcnn_winograd`` (``with
    chainer.using_config('fasterrcnn_winograd', 'never'):``), else by the
    environment variable ``FASTERRCNN_WINOGRAD``. Read when each
    FunctionNode computes, so a gradient follows the setting in force
    when it runs.
    """
    mode = getattr(chainer.config, 'fasterrcnn_winograd', None)
    source = 'chainer.config.fasterrcnn_winograd'
    if mode is None:
        mode = os.environ.get(WINOGRAD_ENV) or 'auto'
        source = WINOGRAD_ENV
    if mode not in numpy_impl.WINOGRAD_MODES:
        raise ValueError('{} must be one of {}, not {!r}'.format(
            source, ', '.join(numpy_impl.WINOGRAD_MODES), mode))
    return mode


def supported(x, W, stride=1, pad=0, cover_all=False, dilate=1, groups=1):
    """Whether :class:`Convolution2D` computes this call (else Chainer's
    own ``convolution_2d`` does). ``x`` and ``W`` are arrays or Variables."""
    if not kernels_enabled():
        return False
    x = getattr(x, 'array', x)
    W = getattr(W, 'array', W)
    if not isinstance(x, numpy.ndarray) or not isinstance(W, numpy.ndarray):
        return False
    if x.dtype not in (numpy.float32, numpy.float64) or W.dtype != x.dtype:
        return False
    if x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[1]:
        return False
    kh, kw = W.shape[2:]
    ph, pw = _pair(pad)
    return (not cover_all and _pair(dilate) == (1, 1) and groups == 1 and
            min(_pair(stride)) >= 1 and 0 <= ph < kh and 0 <= pw < kw and
            x.shape[2] + 2 * ph >= kh and x.shape[3] + 2 * pw >= kw)


class Convolution2D(function_node.FunctionNode):
    """``y = W * x + b`` on the CPU (``numpy_impl.forward``), and with
    ``relu`` ``max(y, 0)``.

    Inputs ``x`` ``(N, C, H, W)``, ``W`` ``(C_out, C, kh, kw)`` and
    optionally ``b`` ``(C_out,)``, float32 or float64 NumPy arrays; output
    ``(N, C_out, H', W')``.

    With ``relu`` the node is ``F.relu`` of the convolution, bit for bit
    in both directions: the forward applies the ReLU to each tile while it
    is in cache (no second pass over the output, no second node), and the
    backward first masks ``gy`` with Chainer's own ``ReLUGrad2``, as
    ``F.relu``'s backward does.
    """

    def __init__(self, stride=1, pad=0, relu=False):
        self.stride = _pair(stride)
        self.pad = _pair(pad)
        self.relu = relu

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, W = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        if self.relu:
            self.retain_outputs((0,))
        return numpy_impl.forward(x, W, b, self.stride, self.pad,
                                  winograd_mode(), relu=self.relu),

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        gy, = grad_outputs
        if not chainer.config.enable_backprop:
            return self._backward_arrays(indexes, x, W, gy)
        if self.relu:
            y, = self.get_retained_outputs()
            gy, = ReLUGrad2(y.raw_array).apply((gy,))
        grads = []
        if 0 in indexes:
            grads.append(grad_input(gy, W, x.shape[2:], self.stride,
                                    self.pad))
        if 1 in indexes:
            gW, = Convolution2DGradW(self.stride, self.pad,
                                     W.shape[2:]).apply((x, gy))
            grads.append(gW)
        if 2 in indexes:
            grads.append(F.sum(gy, axis=(0, 2, 3)))
        return grads

    def _backward_arrays(self, indexes, x, W, gy):
        """The gradients when no graph of them is built (no double
        backprop: a training step's backward): the computations of
        :meth:`backward` on the arrays, so the same bits, without the
        nodes it applies (the ReLU mask, the kernel's flips and transpose,
        two convolutions, the bias's sum), whose Chainer overhead was a
        few ms of the demo's 110 ms iteration.

        A small layer's input and weight gradients run side by side on 2
        cores (:data:`SIDE_BY_SIDE_BYTES`), each with the BLAS at one
        thread: then each has the bits it has alone at one BLAS thread,
        which for a product of one tile differ from the graph's (there on
        the BLAS's own threads) by float rounding."""
        g = gy.array
        if self.relu:
            y, = self.get_retained_outputs()
            # ReLUGrad2.forward_cpu's expression.
            g = utils.force_array(g * (y.array > 0), dtype=g.dtype)
        mode = winograd_mode()
        size = x.shape[2:]

        def weight():
            return numpy_impl.grad_weight(x.array, g, W.shape[2:],
                                          self.stride, self.pad, mode)

        def chainers_input():
            return grad_input(chainer.Variable(g), W, size, self.stride,
                              self.pad)

        jobs = []
        if 0 in indexes:
            # On the arrays where it is one convolution, else Chainer's.
            jobs.append(_grad_input_job(g, W.array, size, self.stride,
                                        self.pad, mode) or chainers_input)
        if 1 in indexes:
            jobs.append(weight)
        if len(jobs) == 2 and x.array.nbytes < SIDE_BY_SIDE_BYTES and \
                side_by_side_pays(2):
            # The two gradients at once, each on a core of its own.
            grads = run_side_by_side(*jobs)
        else:
            grads = [job() for job in jobs]
        if 2 in indexes:
            # chainer.functions.sum's expression.
            grads.append(numpy.asarray(g.sum(axis=(0, 2, 3))))
        return [grad if isinstance(grad, chainer.Variable) else
                chainer.Variable(grad) for grad in grads]


class Convolution2DGradW(function_node.FunctionNode):
    """``gW`` of :class:`Convolution2D` from ``x`` ``(N, C, H, W)`` and
    ``gy`` ``(N, C_out, H', W')`` (``numpy_impl.grad_weight``)."""

    def __init__(self, stride, pad, kernel):
        self.stride = _pair(stride)
        self.pad = _pair(pad)
        self.kernel = _pair(kernel)

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, gy = inputs
        return numpy_impl.grad_weight(x, gy, self.kernel, self.stride,
                                      self.pad, winograd_mode()),

    def backward(self, indexes, grad_outputs):
        x, gy = self.get_retained_inputs()
        ggW, = grad_outputs
        grads = []
        if 0 in indexes:
            grads.append(grad_input(gy, ggW, x.shape[2:], self.stride,
                                    self.pad))
        if 1 in indexes:
            grads.append(convolution_2d(x, ggW, None, self.stride, self.pad))
        return grads


def _few_input_channels(W_shape):
    """Whether :func:`grad_input` takes Chainer's deconvolution for a
    kernel of ``W_shape`` ``(C_out, C, kh, kw)`` (see there)."""
    return W_shape[1] * 4 <= W_shape[0]


def _rest(gy_shape, kernel, size, stride, pad):
    """``(rows, columns)`` of the forward's input past its last window
    (the forward floors them away; they get no gradient)."""
    return tuple(size[a] - ((gy_shape[2 + a] - 1) * stride[a] + kernel[a] -
                            2 * pad[a]) for a in (0, 1))


def _stride_one_pad(gy_shape, kernel, size, stride, pad):
    """The padding of the one stride-1 convolution of ``gy`` with the
    flipped kernel that is the input gradient; None where it takes more
    (a stride, or rows past the last window)."""
    if tuple(stride) != (1, 1) or \
            _rest(gy_shape, kernel, size, stride, pad) != (0, 0):
        return None
    return kernel[0] - 1 - pad[0], kernel[1] - 1 - pad[1]


def _grad_input_job(gy, W, size, stride, pad, mode):
    """:func:`grad_input` on arrays where it is one stride-1 convolution
    on this project's path (the same call, so the same bits), as a
    function of no arguments that reads no ``chainer.config`` (``mode``:
    :func:`winograd_mode`); None where it is not (few input channels, a
    stride, rows past the last window, or a call :func:`supported` hands
    to Chainer)."""
    if _few_input_channels(W.shape):
        return None
    one = _stride_one_pad(gy.shape, W.shape[2:], size, stride, pad)
    flipped = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    if one is None or not supported(gy, flipped, 1, one):
        return None
    return lambda: numpy_impl.forward(gy, flipped, None, (1, 1), one, mode)


def grad_input(gy, W, size, stride, pad):
    """The gradient of ``x`` from ``gy``: a convolution itself.

    Args:
        gy (chainer.Variable): ``(N, C_out, H', W')``.
        W (chainer.Variable): ``(C_out, C, kh, kw)``.
        size (tuple): ``(H, W)`` of the forward's input.
        stride, pad (tuple): the forward's.

    Returns:
        chainer.Variable: ``(N, C, H, W)``.
    """
    n, c_out, out_h, out_w = gy.shape
    kh, kw = W.shape[2:]
    sy, sx = stride
    ph, pw = pad
    if _few_input_channels(W.shape):
        # Few input channels (conv1_1's 3): the convolution below would
        # build the im2col of the wide gy, C_out * kh * kw values per cell,
        # where Chainer's deconvolution (one product, then col2im) writes
        # C_in * kh * kw: 0.25 s against 0.6 s for conv1_1 at 600 x 800
        # (bench/conv.py).
        return F.deconvolution_2d(gy, W, None, stride, pad, outsize=size)
    flipped = F.transpose(F.flip(F.flip(W, 2), 3), (1, 0, 2, 3))
    one = _stride_one_pad(gy.shape, (kh, kw), size, stride, pad)
    if one is not None:
        return convolution_2d(gy, flipped, None, 1, one)
    # Input rows past the last window (the forward floors) get no gradient.
    rest_h, rest_w = _rest(gy.shape, (kh, kw), size, stride, pad)
    # Stride s: the gradient spreads from every s-th cell; put s - 1 zeros
    # between the cells of gy, pad it on each side, convolve with stride 1.
    spread = F.pad(F.reshape(gy, (n, c_out, out_h, 1, out_w, 1)),
                   ((0, 0), (0, 0), (0, 0), (0, sy - 1), (0, 0), (0, sx - 1)),
                   'constant')
    spread = F.reshape(spread, (n, c_out, out_h * sy, out_w * sx))
    spread = spread[:, :, :(out_h - 1) * sy + 1, :(out_w - 1) * sx + 1]
    spread = F.pad(spread, ((0, 0), (0, 0), (kh - 1 - ph, kh - 1 - ph +
                                             rest_h),
                            (kw - 1 - pw, kw - 1 - pw + rest_w)), 'constant')
    return convolution_2d(spread, flipped, None, 1, 0)


def convolution_2d(x, W, b=None, stride=1, pad=0, cover_all=False,
                   dilate=1, groups=1, relu=False):
    """``chainer.functions.convolution_2d`` with the tiled CPU path.

    Args:
        x (chainer.Variable or array): ``(N, C, H, W)`` input.
        W (chainer.Variable or array): ``(C_out, C / groups, kh, kw)``.
        b (chainer.Variable or array or None): ``(C_out,)`` bias.
        stride, pad, cover_all, dilate, groups: as in Chainer.
        relu (bool): return ``F.relu`` of the convolution (in the same
            node on the tiled path, see :class:`Convolution2D`).

    Returns:
        chainer.Variable: ``(N, C_out, H', W')``.
    """
    if not supported(x, W, stride, pad, cover_all, dilate, groups) or (
            b is not None and getattr(b, 'dtype', None) !=
            getattr(x, 'dtype', None)):
        y = F.convolution_2d(x, W, b, stride, pad, cover_all=cover_all,
                             dilate=dilate, groups=groups)
        return F.relu(y) if relu else y
    node = Convolution2D(stride, pad, relu)
    inputs = (x, W) if b is None else (x, W, b)
    y, = node.apply(inputs)
    return y
