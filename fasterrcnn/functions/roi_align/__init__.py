"""RoIAlign (Mask R-CNN, He et al. 2017, sec. 3) as a Chainer FunctionNode.

RoI pooling rounds each RoI, and then each bin, to whole feature cells: a
misalignment of up to a cell (16 pixels at stride 16) between the RoI and
the features it pools. Section 3 of the Mask R-CNN paper removes every
rounding: each bin is sampled at regularly spaced points at their exact,
fractional positions, each point's value is the bilinear interpolation of
the four cells around it, and the bin is their mean (torchvision's and
Detectron's choice).

This package splits the op as ``roi_pooling`` does: this module is the op
wrapper (argument checks, the autograd graph, dispatch on the array module)
and holds no array algorithm; each backend lives in its own module:

* ``numpy_impl``: the NumPy twin (per-axis interpolation matrices, two
  GEMMs per RoI);
* ``cuda_impl``: the CUDA sources and CuPy ElementwiseKernels.

They agree to float rounding (they sum in different orders), with the
semantics of ``torchvision.ops.roi_align`` (and equal to it to float
rounding, forward and backward; docs/roi_align.md has the measurements):

* a RoI's edges are its corners times ``spatial_scale``, less half a cell
  with ``aligned=True`` (torchvision's ``aligned``: a cell's value then
  sits at its centre, the "half-pixel" correction of Detectron2's
  ROIAlignV2); without it the RoI is at least one cell on each axis (the
  original Mask R-CNN and torchvision's default);
* the RoI is split into ``outh x outw`` bins; bin ``(ph, pw)`` has
  ``grid_h x grid_w`` samples, ``grid`` being ``sampling_ratio`` or, for
  None, ``ceil(bin size in cells)`` per RoI (torchvision's
  ``sampling_ratio <= 0``), sample ``k`` at ``start + p * bin + (k + 0.5) *
  bin / grid`` on each axis;
* a sample from -1 to the map's extent (``H`` rows, ``W`` columns),
  inclusive, interpolates bilinearly, read at 0 between -1 and 0 and at
  the last cell from the last cell on; beyond that, or NaN, it is 0 (and
  still counts);
* the bin is the sum of its samples over ``max(grid_h * grid_w, 1)``; the
  gradient of each sample goes to its four cells by the same weights.

Defined where torchvision leaves it to C's casts (undefined behaviour), as
its kernel in fact behaves on x86: an adaptive grid whose ceiling is not a
finite number in ``[1, 2^31)`` (a non-finite extent; with ``aligned`` a
zero or inverted one; a huge one) has no sample. So a RoI with a NaN or
infinite coordinate gives 0 and receives no gradient with any grid (its
positions are NaN or infinite: empty samples). ``roi_indices`` outside
``[0, N)`` are an error (a ``ValueError``); on CuPy that check reads one
bool back from the GPU, once per call.

RoIs are ``(y_min, x_min, y_max, x_max)`` in input-image pixels throughout
(torchvision takes ``(batch_index, x1, y1, x2, y2)`` boxes). There is no
gradient for the RoIs, as in torchvision and Chainer.
"""

import numbers

import numpy
from chainer import function_node

from fasterrcnn.backend import get_array_module
from fasterrcnn.functions.roi_align import cuda_impl, numpy_impl
from fasterrcnn.functions.roi_inputs import check_roi_types


def _check_indices(roi_indices, n):
    """Raise ValueError unless every ``roi_indices`` is in ``[0, n)``.

    One reduction, and on CuPy one bool read back (a synchronisation).
    """
    if len(roi_indices) == 0:
        return
    xp = get_array_module(roi_indices)
    bad = xp.logical_or(roi_indices < 0, roi_indices >= n).any()
    if bool(bad):
        found = roi_indices[xp.logical_or(roi_indices < 0,
                                          roi_indices >= n)]
        raise ValueError(
            'roi_indices must be in [0, {}) (the images of x); got {}'.format(
                n, int(found[0])))


class RoIAlign2D(function_node.FunctionNode):
    """RoIAlign; see :func:`roi_align_2d`.

    Inputs are ``x`` ``(N, C, H, W)`` float, ``rois`` ``(R, 4)`` of ``x``'s
    dtype, ``(y_min, x_min, y_max, x_max)`` in image pixels, and
    ``roi_indices`` ``(R,)`` int32; the output is ``(R, C, outh, outw)``.
    After a NumPy forward, ``geometry`` holds the twin's interpolation
    matrices (:class:`numpy_impl.Geometry`) for :class:`RoIAlign2DGrad`;
    the CuPy kernels recompute theirs from the RoIs.
    """

    def __init__(self, outh, outw, spatial_scale, sampling, aligned):
        self.outh = outh
        self.outw = outw
        self.spatial_scale = spatial_scale
        self.sampling = sampling
        self.aligned = aligned
        self.geometry = None

    def check_type_forward(self, in_types):
        check_roi_types(in_types)

    def forward(self, inputs):
        x, rois, roi_indices = inputs
        _check_indices(roi_indices, x.shape[0])
        self._x_shape = x.shape
        args = (x, rois, roi_indices, self.outh, self.outw,
                self.spatial_scale, self.sampling, self.aligned)
        if get_array_module(x) is numpy:
            y, self.geometry = numpy_impl.forward(*args)
        else:
            y = cuda_impl.forward(*args)
        # The backward needs the RoIs and their images, not x itself.
        self.retain_inputs((1, 2))
        return y,

    def backward(self, indexes, grad_outputs):
        rois, roi_indices = self.get_retained_inputs()
        gx = RoIAlign2DGrad(self).apply(
            (rois, roi_indices, grad_outputs[0]))[0]
        return gx, None, None


class RoIAlign2DGrad(function_node.FunctionNode):
    """The gradient of :class:`RoIAlign2D`, itself differentiable.

    RoIAlign is linear in ``x`` (``y = A x`` for a matrix ``A`` fixed by
    the RoIs), so its gradient is ``gx = A^T gy``, linear in ``gy``, and the
    gradient of that is ``A ggx``: RoIAlign again, applied to ``ggx``. So
    every order of derivative is one of these two nodes.

    Inputs are the forward's ``rois`` ``(R, 4)`` ``(y_min, x_min, y_max,
    x_max)``, ``roi_indices`` ``(R,)`` int32 and ``gy`` ``(R, C, outh,
    outw)`` of ``x``'s dtype; the output is ``gx`` ``(N, C, H, W)``.
    """

    def __init__(self, forward):
        self.outh = forward.outh
        self.outw = forward.outw
        self.spatial_scale = forward.spatial_scale
        self.sampling = forward.sampling
        self.aligned = forward.aligned
        self.x_shape = forward._x_shape
        self.geometry = forward.geometry

    def forward_cpu(self, inputs):
        rois, roi_indices, gy = inputs
        self.retain_inputs((0, 1))
        return numpy_impl.backward(gy, self.geometry, roi_indices,
                                   self.x_shape),

    def forward_gpu(self, inputs):
        rois, roi_indices, gy = inputs
        self.retain_inputs((0, 1))
        return cuda_impl.backward(
            gy, rois, roi_indices, self.x_shape, self.outh, self.outw,
            self.spatial_scale, self.sampling, self.aligned),

    def backward(self, indexes, grad_outputs):
        rois, roi_indices = self.get_retained_inputs()
        ggy = RoIAlign2D(self.outh, self.outw, self.spatial_scale,
                         self.sampling, self.aligned).apply(
            (grad_outputs[0], rois, roi_indices))[0]
        return None, None, ggy


def _pair(value, name, allow_none):
    """``(h, w)`` of an int or a pair: positive ints (or None where
    allowed); ValueError or TypeError naming ``name`` otherwise."""
    if value is None or isinstance(value, numbers.Integral):
        pair = (value, value)
    else:
        try:
            pair = tuple(value)
        except TypeError:
            raise TypeError('{} must be an int or a pair, got {!r}'.format(
                name, value))
    if len(pair) != 2:
        raise ValueError('{} must be an int or a pair, got {!r}'.format(
            name, value))
    for v in pair:
        if v is None and allow_none:
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError('{} must be {}int or a pair of them, got '
                            '{!r}'.format(name, 'None, an ' if allow_none
                                          else 'an ', value))
        if v <= 0:
            raise ValueError('{} must be positive, got {!r}'.format(
                name, value))
    return tuple(None if v is None else int(v) for v in pair)


def roi_align_2d(x, rois, roi_indices, outsize, spatial_scale,
                 sampling_ratio=None, aligned=False):
    """RoIAlign with the semantics of ``torchvision.ops.roi_align``.

    The arguments of ``chainer.functions.roi_average_align_2d``, plus
    ``aligned``; the semantics are in the package docstring.

    Args:
        x (chainer.Variable or array): ``(N, C, H, W)`` float32 or float64
            feature maps.
        rois (array): ``(R, 4)`` RoIs, same dtype as ``x``, ``(y_min, x_min,
            y_max, x_max)`` in input-image pixels (not cells).
        roi_indices (array): ``(R,)`` int32, the image of each RoI in
            ``[0, N)``; another value is a ValueError.
        outsize (int or (int, int)): ``(outh, outw)`` bins per RoI.
        spatial_scale (float): feature-map cells per image pixel (1/16 at
            stride 16).
        sampling_ratio (None, int or pair): samples per bin along each
            axis, ``(sampling_h, sampling_w)`` or one int for both; None
            (for either or both) is adaptive, ``ceil`` of the bin's extent
            in cells for each RoI (torchvision's ``sampling_ratio=0``).
        aligned (bool): shift the RoI by half a cell, torchvision's
            ``aligned=True`` (detectron2's ROIAlignV2); False is the
            original Mask R-CNN and torchvision's default.

    Returns:
        chainer.Variable: ``(R, C, outh, outw)`` pooled features, dtype of
        ``x``.
    """
    outh, outw = _pair(outsize, 'outsize', allow_none=False)
    sampling = tuple(s or 0 for s in _pair(sampling_ratio, 'sampling_ratio',
                                           allow_none=True))
    if isinstance(spatial_scale, bool) or \
            not isinstance(spatial_scale, numbers.Real) or \
            not 0 < spatial_scale < float('inf'):
        raise ValueError('spatial_scale must be a positive finite number, '
                         'got {!r}'.format(spatial_scale))
    return RoIAlign2D(outh, outw, float(spatial_scale), sampling,
                      bool(aligned)).apply((x, rois, roi_indices))[0]
