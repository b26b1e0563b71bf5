"""The RoI op table (fasterrcnn/functions/roi_ops.py): each name is its
op with the settings documented, and every head reads it."""

import numpy
import pytest

from fasterrcnn.functions.roi_align import roi_align_2d
from fasterrcnn.functions.roi_ops import ROI_OPS, roi_op_function
from fasterrcnn.functions.roi_pooling import roi_pooling_2d
from fasterrcnn.links.backbones.vgg16 import VGG16RoIHead


def inputs():
    rng = numpy.random.RandomState(0)
    x = rng.normal(size=(2, 4, 6, 7)).astype(numpy.float32)
    rois = numpy.array([[3, 5, 60, 90], [0, 0, 95, 111], [20.5, 7, 41, 33]],
                       numpy.float32)
    return x, rois, numpy.array([0, 1, 1], numpy.int32)


def test_each_name_is_its_op():
    x, rois, indices = inputs()
    numpy.testing.assert_array_equal(
        roi_op_function('pool')(x, rois, indices, 3, 1 / 16.).array,
        roi_pooling_2d(x, rois, indices, 3, 1 / 16.).array)
    # align: detectron2's ROIAlignV2, aligned with an adaptive grid.
    numpy.testing.assert_array_equal(
        roi_op_function('align')(x, rois, indices, 3, 1 / 16.).array,
        roi_align_2d(x, rois, indices, 3, 1 / 16., sampling_ratio=None,
                     aligned=True).array)
    assert sorted(ROI_OPS) == ['align', 'pool']
    with pytest.raises(ValueError, match="'max'.*align, pool"):
        roi_op_function('max')


def test_a_head_uses_the_op_it_is_given():
    x, rois, indices = inputs()
    outputs = {}
    for op in ('pool', 'align'):
        numpy.random.seed(0)
        head = VGG16RoIHead(3, in_channels=4, fc_size=8, roi_op=op)
        outputs[op] = head(x, rois, indices)[1].array
    assert not numpy.array_equal(outputs['pool'], outputs['align'])
