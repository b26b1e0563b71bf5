"""NumPy backend of RoIAlign (fasterrcnn/functions/roi_align/numpy_impl).

Its private arithmetic: the sample grid, the interpolation matrices and
their windows; and that the thread split and the channel blocks change no
result.
"""

import numpy
import pytest

from fasterrcnn.functions.roi_align import numpy_impl
from tests.functions.roi_align.roi_align_reference import (
    assert_close_to_rounding, bin_samples, random_rois,
    roi_align_backward_reference, roi_align_reference)


def test_adaptive_grid():
    bins = numpy.array([0.5, 1.0, 1.01, 2.7, 0.0, -0.5, -3.0, numpy.nan,
                        numpy.inf, -numpy.inf, 2.0 ** 31 - 1, 2.0 ** 31,
                        1e30], dtype=numpy.float64)
    numpy.testing.assert_array_equal(
        numpy_impl.sample_grid(bins, 0),
        [1, 1, 2, 3, 0, 0, 0, 0, 0, 0, 2 ** 31 - 1, 0, 0])
    numpy.testing.assert_array_equal(numpy_impl.sample_grid(bins, 3), 3)


@pytest.mark.parametrize('aligned', [False, True])
@pytest.mark.parametrize('sampling', [(2, 2), (0, 0), (1, 4)])
def test_matrices_hold_the_samples_of_the_definition(aligned, sampling):
    # Row (r, ph) of weight_h times row (r, pw) of weight_w, summed over
    # the cells, is the reference's list of (cell, weight) of that bin; the
    # window covers every cell with a weight; the count is the divisor.
    rng = numpy.random.RandomState(4)
    height, width = 7, 9
    rois = random_rois(rng, 12, (height * 16, width * 16), numpy.float64,
                       outside=0.4)
    geo = numpy_impl.geometry(rois, 3, 4, 1 / 16, sampling, aligned, height,
                              width)
    for r, roi in enumerate(rois):
        bins, count = bin_samples(roi, 3, 4, 1 / 16, sampling, aligned,
                                  height, width, numpy.float64)
        assert geo.count[r] == count
        h0, h1, w0, w1 = geo.window[r]
        for (ph, pw), cells in bins.items():
            dense = numpy.zeros((height, width))
            for h, w, weight in cells:
                dense[h, w] += weight
            outer = numpy.outer(geo.weight_h[r, ph], geo.weight_w[r, pw])
            numpy.testing.assert_allclose(outer, dense, rtol=0, atol=1e-15)
            hit = dense != 0
            assert not hit[:h0].any() and not hit[h1:].any()
            assert not hit[:, :w0].any() and not hit[:, w1:].any()
        assert geo.nonempty[r] == any(bins.values())


def _large_case(c, dtype=numpy.float32):
    rng = numpy.random.RandomState(7)
    x = rng.randn(2, c, 12, 15).astype(dtype)
    rois = random_rois(rng, 100, (12 * 16, 15 * 16), dtype)
    roi_indices = rng.randint(0, 2, 100).astype(numpy.int32)
    gy = rng.randn(100, c, 7, 7).astype(dtype)
    return x, rois, roi_indices, gy


@pytest.mark.parametrize('c', [64, 300])
def test_threads_change_no_result(monkeypatch, c):
    # 300 channels are two blocks of the backward (256 + 44).
    x, rois, roi_indices, gy = _large_case(c)
    results = []
    for minimum in (1, 1 << 62):
        monkeypatch.setattr(numpy_impl, 'PARALLEL_MIN_WORK', minimum)
        y, geo = numpy_impl.forward(x, rois, roi_indices, 7, 7, 1 / 16,
                                    (0, 0), True)
        gx = numpy_impl.backward(gy, geo, roi_indices, x.shape)
        results.append((y, gx))
    assert results[0][0].tobytes() == results[1][0].tobytes()
    assert results[0][1].tobytes() == results[1][1].tobytes()
    # and a few RoIs against the reference
    ref_y = roi_align_reference(x, rois[:3], roi_indices[:3], (7, 7),
                                1 / 16, (0, 0), True)
    mag_y, _ = numpy_impl.forward(numpy.abs(x), rois[:3], roi_indices[:3],
                                  7, 7, 1 / 16, (0, 0), True)
    assert_close_to_rounding(results[0][0][:3], ref_y, mag_y, 8)


def test_channel_blocks_add_up_to_the_reference(monkeypatch):
    # Blocks of 3 channels over 8: every block adds its own slice.
    monkeypatch.setattr(numpy_impl, 'CHANNEL_BLOCK', 3)
    rng = numpy.random.RandomState(8)
    x = rng.randn(2, 8, 5, 6)
    rois = random_rois(rng, 9, (80, 96), numpy.float64)
    roi_indices = rng.randint(0, 2, 9).astype(numpy.int32)
    gy = rng.randn(9, 8, 2, 3)
    _, geo = numpy_impl.forward(x, rois, roi_indices, 2, 3, 1 / 16, (2, 2),
                                False)
    gx = numpy_impl.backward(gy, geo, roi_indices, x.shape)
    ref = roi_align_backward_reference(gy, rois, roi_indices, x.shape,
                                       1 / 16, (2, 2), False)
    numpy.testing.assert_allclose(gx, ref, rtol=0, atol=1e-13)


def test_a_non_contiguous_input():
    rng = numpy.random.RandomState(9)
    x = rng.randn(2, 5, 6, 3).transpose(0, 3, 2, 1)   # (2, 3, 6, 5)
    rois = random_rois(rng, 6, (96, 80), numpy.float64)
    roi_indices = rng.randint(0, 2, 6).astype(numpy.int32)
    y, _ = numpy_impl.forward(x, rois, roi_indices, 2, 2, 1 / 16, (2, 2),
                              False)
    ref = roi_align_reference(numpy.ascontiguousarray(x), rois, roi_indices,
                              (2, 2), 1 / 16, (2, 2), False)
    numpy.testing.assert_allclose(y, ref, rtol=0, atol=1e-13)
