"""RoI max pooling (Fast R-CNN, sec. 2.1) as a Chainer FunctionNode.

This package splits the op the way torchvision does: this module is the op
wrapper (argument checks, the autograd graph, dispatch on the array module)
and holds no array algorithm; each backend lives in its own module:

* ``numpy_impl``: the NumPy twin (a sparse-table forward, a ``bincount``
  backward), with ``numpy_workspace``, its scratch memory and thread pool;
* ``cuda_impl``: the CUDA sources and CuPy ElementwiseKernels.

Both compute the same values bit for bit, with the semantics of
``torchvision.ops.roi_pool``, which the PyTorch version uses (``RoIPool((7,
7), 1/16)``):

* each RoI corner is scaled by ``spatial_scale`` in the input's dtype and
  rounded half away from zero (C ``round``; NumPy's ``rint`` and chainer's own
  CPU ``roi_pooling_2d`` round half to even, which moves a RoI by a cell
  whenever a corner lands on ``k + 0.5``);
* the RoI spans ``end - start + 1`` cells (at least 1), split into
  ``outh x outw`` bins of ``roi_height / outh`` cells; bin ``ph`` covers
  rows ``[floor(ph * bin_h), ceil((ph + 1) * bin_h))`` from the RoI's start,
  clipped to the map, and columns likewise;
* a bin holds the maximum of its cells, the first one in row-major order
  among equal maxima; a bin with no cells gives 0; NaN cells are passed over
  and the maximum starts from the dtype's lowest finite value (so a bin of
  only NaN or -inf gives that value and receives no gradient);
* the gradient of a bin goes to the cell that gave its maximum.

RoIs are ``(y_min, x_min, y_max, x_max)`` in input-image pixels throughout.
The arg-max kept between forward and backward is a flat cell index ``h * W +
w`` (-1 for none), ``(R, C, outh, outw)`` on either backend.
"""

import chainer
import numpy
from chainer import function_node

from fasterrcnn.backend import get_array_module
from fasterrcnn.functions.roi_inputs import check_roi_types
from fasterrcnn.functions.roi_pooling import cuda_impl, numpy_impl
from fasterrcnn.functions.roi_pooling.numpy_workspace import \
    release_workspace  # NOQA


class RoIPooling2D(function_node.FunctionNode):
    """RoI max pooling; see :func:`roi_pooling_2d`.

    Inputs are ``x`` ``(N, C, H, W)`` float, ``rois`` ``(R, 4)`` of
    ``x``'s dtype, ``(y_min, x_min, y_max, x_max)`` in image pixels, and
    ``roi_indices`` ``(R,)`` int32; the output is ``(R, C, outh, outw)``.
    After the forward, ``argmax`` holds the arg-max cells (package
    docstring) for :class:`RoIPooling2DGrad`.
    """

    def __init__(self, outh, outw, spatial_scale):
        self.outh = outh
        self.outw = outw
        self.spatial_scale = spatial_scale

    def check_type_forward(self, in_types):
        check_roi_types(in_types)

    def forward(self, inputs):
        x, rois, roi_indices = inputs
        self._x_shape = x.shape
        args = (x, rois, roi_indices, self.outh, self.outw,
                self.spatial_scale)
        if get_array_module(x) is numpy:
            # With no graph to back-propagate through (predict), the twin
            # skips the arg-max: the same y in about 40 % of the time
            # (bench/ops.py, "RoI pool fwd, no graph").
            y, self.argmax = numpy_impl.forward(
                *args, argmax=chainer.config.enable_backprop)
        else:
            y, self.argmax = cuda_impl.forward(*args)
        # The backward needs the RoIs (CuPy recomputes the bins) and their
        # images, not x itself.
        self.retain_inputs((1, 2))
        return y,

    def backward(self, indexes, grad_outputs):
        rois, roi_indices = self.get_retained_inputs()
        gx = RoIPooling2DGrad(self).apply(
            (rois, roi_indices, grad_outputs[0]))[0]
        return gx, None, None


class RoIPooling2DGrad(function_node.FunctionNode):
    """The gradient of :class:`RoIPooling2D`, itself differentiable.

    It is linear in ``gy``: it scatters each bin's gradient to its arg-max
    cell, so its own gradient gathers ``ggx`` at the arg-max cells.

    Inputs are the forward's ``rois`` ``(R, 4)`` ``(y_min, x_min, y_max,
    x_max)``, ``roi_indices`` ``(R,)`` int32 and ``gy`` ``(R, C, outh,
    outw)`` of ``x``'s dtype; the output is ``gx`` ``(N, C, H, W)``.
    """

    def __init__(self, forward):
        self.outh = forward.outh
        self.outw = forward.outw
        self.spatial_scale = forward.spatial_scale
        self.x_shape = forward._x_shape
        self.argmax = forward.argmax

    def forward_cpu(self, inputs):
        rois, roi_indices, gy = inputs
        self.retain_inputs((1,))
        return numpy_impl.backward(gy, self.argmax, roi_indices,
                                   self.x_shape),

    def forward_gpu(self, inputs):
        rois, roi_indices, gy = inputs
        self.retain_inputs((1,))
        return cuda_impl.backward(
            gy, self.argmax, rois, roi_indices, self.x_shape, self.outh,
            self.outw, self.spatial_scale),

    def backward(self, indexes, grad_outputs):
        # Built from Chainer functions on either backend, so that it is
        # differentiable again and needs no kernel of its own.
        roi_indices, = self.get_retained_inputs()
        ggx = grad_outputs[0]
        xp = get_array_module(ggx)
        n, c, height, width = self.x_shape
        rows = roi_indices.array[:, None, None, None].astype(numpy.int64)
        chans = xp.arange(c)[None, :, None, None]
        argmax = self.argmax
        hit = argmax >= 0
        flat = (rows * c + chans) * (height * width) + \
            xp.where(hit, argmax, 0)
        taken = chainer.functions.get_item(
            chainer.functions.reshape(ggx, (-1,)), flat)
        ggy = taken * hit.astype(ggx.dtype)
        return None, None, ggy


def roi_pooling_2d(x, rois, roi_indices, outsize, spatial_scale):
    """RoI max pooling with the semantics of ``torchvision.ops.roi_pool``.

    Args:
        x (chainer.Variable or array): ``(N, C, H, W)`` float feature maps.
        rois (array): ``(R, 4)`` RoIs, same dtype as ``x``, ``(y_min, x_min,
            y_max, x_max)`` in input-image pixels.
        roi_indices (array): ``(R,)`` int32, the image of each RoI in
            ``[0, N)``.
        outsize (int or (int, int)): ``(outh, outw)`` bins per RoI.
        spatial_scale (float): feature-map cells per image pixel (1/16 for
            VGG16's conv5_3).

    Returns:
        chainer.Variable: ``(R, C, outh, outw)`` pooled features.
    """
    if isinstance(outsize, int):
        outh = outw = outsize
    else:
        outh, outw = outsize
    if outh <= 0 or outw <= 0:
        raise ValueError('outsize must be positive, got {}'.format(outsize))
    if spatial_scale <= 0:
        raise ValueError('spatial_scale must be positive, got {}'.format(
            spatial_scale))
    return RoIPooling2D(outh, outw, spatial_scale).apply(
        (x, rois, roi_indices))[0]
