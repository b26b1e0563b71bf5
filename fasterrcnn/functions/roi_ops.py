"""The RoI feature ops a head can use, by the name ``model.roi_op`` gives:

* ``'pool'``: RoI max pooling (Fast R-CNN, sec. 2.1), the PyTorch
  version's and chainercv's; each RoI's corners are rounded to cells;
* ``'align'``: RoIAlign (Mask R-CNN, sec. 3), bilinear samples at exact
  positions: detectron2's default for its heads (``ROIAlignV2``: the
  half-pixel ``aligned`` shift, an adaptive sampling grid).

Each is called as ``op(x, rois, roi_indices, outsize, spatial_scale)``:
``x`` ``(N, C, H, W)`` features, ``rois`` ``(R, 4)`` ``(y_min, x_min,
y_max, x_max)`` in input pixels, ``roi_indices`` ``(R,)`` int32; the result
is ``(R, C, outsize, outsize)``.
"""

from fasterrcnn.functions.roi_align import roi_align_2d
from fasterrcnn.functions.roi_pooling import roi_pooling_2d


def _pool(x, rois, roi_indices, outsize, spatial_scale):
    return roi_pooling_2d(x, rois, roi_indices, outsize, spatial_scale)


def _align(x, rois, roi_indices, outsize, spatial_scale):
    return roi_align_2d(x, rois, roi_indices, outsize, spatial_scale,
                        sampling_ratio=None, aligned=True)


#: ``model.roi_op`` name -> the op.
ROI_OPS = {'pool': _pool, 'align': _align}


def roi_op_function(name):
    """The op called ``name`` (a key of :data:`ROI_OPS`); a clear error for
    another."""
    if name not in ROI_OPS:
        raise ValueError('unknown RoI op {!r}: one of {}'.format(
            name, ', '.join(sorted(ROI_OPS))))
    return ROI_OPS[name]
