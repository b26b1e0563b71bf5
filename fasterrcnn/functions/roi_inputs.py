"""The inputs every RoI op takes, checked in one place (RoI pooling and
RoIAlign share them: ``x``, ``rois`` and ``roi_indices``)."""

import numpy
from chainer.utils import type_check


def check_roi_types(in_types):
    """Chainer's type check of a RoI op's inputs.

    ``x`` ``(N, C, H, W)`` float; ``rois`` ``(R, 4)`` of ``x``'s dtype,
    ``(y_min, x_min, y_max, x_max)``; ``roi_indices`` ``(R,)`` int32.
    """
    type_check._argname(in_types, ('x', 'rois', 'roi_indices'))
    x_type, rois_type, roi_indices_type = in_types
    type_check.expect(
        x_type.dtype.kind == 'f',
        x_type.ndim == 4,
        rois_type.dtype == x_type.dtype,
        rois_type.ndim == 2,
        rois_type.shape[1] == 4,
        roi_indices_type.dtype == numpy.int32,
        roi_indices_type.ndim == 1,
        rois_type.shape[0] == roi_indices_type.shape[0],
    )
