"""NumPy backend of RoI pooling (fasterrcnn/functions/roi_pooling/numpy_impl).

Its private arithmetic: corners rounded half away from zero, as C does.
"""

import numpy
import pytest

from fasterrcnn.functions.roi_pooling import numpy_impl, roi_pooling_2d
from tests.functions.roi_pooling.roi_pool_reference import c_round


def test_corner_rounding_is_half_away_from_zero():
    assert [c_round(v) for v in (0.5, 1.5, 2.5, -0.5, -1.5)] == \
        [1, 2, 3, -1, -2]
    got = numpy_impl._round_half_away(
        numpy.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997, 3.2],
                    dtype=numpy.float32), numpy)
    numpy.testing.assert_array_equal(got, [1, 2, 3, -1, -3, 0, 3])
    # A RoI from pixel 8 to 40 at 1/16 spans cells 0.5 .. 2.5 -> 1 .. 3
    # (half to even would give 0 .. 2).
    x = numpy.arange(16, dtype=numpy.float32).reshape(1, 1, 4, 4)
    rois = numpy.array([[8, 8, 40, 40]], dtype=numpy.float32)
    y = roi_pooling_2d(x, rois, numpy.zeros(1, numpy.int32), 1, 1 / 16)
    assert y.array.item() == 15.0   # the max of cells 1..3 x 1..3


@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
def test_a_negative_zero_maximum_keeps_its_sign(dtype):
    # The CUDA kernel (and torchvision) return the maximum cell's value
    # itself: -0.0 stays -0.0, 0.0 stays 0.0, the first cell among them.
    x = numpy.full((1, 2, 4, 4), -1, dtype)
    x[0, 0, 1, 1] = -0.0
    x[0, 0, 2, 2] = 0.0
    x[0, 1, 3, 3] = 0.0
    rois = numpy.array([[0, 0, 3, 3], [3, 3, 3, 3]], dtype)
    y, argmax = numpy_impl.forward(x, rois, numpy.zeros(2, numpy.int32), 1,
                                   1, 1.)
    assert y[0, 0, 0, 0] == 0 and numpy.signbit(y[0, 0, 0, 0])
    assert y[1, 1, 0, 0] == 0 and not numpy.signbit(y[1, 1, 0, 0])
    assert argmax[0, 0, 0, 0] == 5  # (1, 1): the first of the two zeros
