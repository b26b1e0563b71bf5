"""RoIAlign op and FunctionNodes (fasterrcnn/functions/roi_align).

Through the public ``roi_align_2d`` on NumPy arrays: values and gradients
against the plain-loop reference, the edge cases, the argument checks, and
the first and second derivatives by finite differences.
"""

import chainer
import numpy
import pytest
from chainer import gradient_check

from fasterrcnn.functions import roi_align_2d
from fasterrcnn.functions.roi_align import RoIAlign2D, numpy_impl
from tests.functions.roi_align.roi_align_reference import (
    assert_close_to_rounding, random_rois, roi_align_backward_reference,
    roi_align_reference)

#: Units of eps * magnitude allowed between the twin and the reference
#: (float64 sums, rounded once to the dtype): measured at most 1.63
#: (float32) and 1.95 (float64) over CASES x both `aligned` (OpenBLAS,
#: Cooperlake kernel); 8 leaves room for other BLAS kernels' orders.
UNITS = 8

CASES = [
    # (N, C, H, W, outsize, spatial_scale, sampling, R, dtype)
    (1, 3, 7, 9, (7, 7), 1 / 16, (2, 2), 12, numpy.float32),
    (2, 4, 10, 6, (3, 5), 1 / 16, (0, 0), 20, numpy.float32),
    (2, 2, 12, 12, (4, 4), 1 / 8, (1, 3), 15, numpy.float64),
    (3, 2, 5, 8, (2, 2), 1 / 8, (0, 2), 9, numpy.float64),
    (1, 2, 1, 1, (7, 7), 1 / 16, (0, 0), 6, numpy.float32),   # one cell
    (2, 3, 4, 4, (1, 1), 1.0, (3, 3), 6, numpy.float32),
]


def _sampling_arg(sampling):
    """The ``sampling_ratio`` argument for ``(sh, sw)`` (0: adaptive)."""
    pair = tuple(s or None for s in sampling)
    return pair[0] if pair[0] == pair[1] else pair


def run(x, rois, roi_indices, outsize, scale, sampling, aligned, gy=None):
    """``(y, gx)`` of ``roi_align_2d`` (gx with ``gy``, if given)."""
    xv = chainer.Variable(x)
    y = roi_align_2d(xv, rois, roi_indices, outsize, scale,
                     _sampling_arg(sampling), aligned)
    if gy is None:
        return y.array, None
    y.grad = gy
    y.backward()
    return y.array, xv.grad


def magnitudes(x, rois, roi_indices, outsize, scale, sampling, aligned, gy):
    """The op on ``|x|`` and its gradient of ``|gy|``: the scale of the
    rounding of every value (see assert_close_to_rounding)."""
    y, geo = numpy_impl.forward(numpy.abs(x), rois, roi_indices, *outsize,
                                scale, sampling, aligned)
    gx = numpy_impl.backward(numpy.abs(gy), geo, roi_indices, x.shape)
    return y, gx


@pytest.mark.parametrize('aligned', [False, True])
@pytest.mark.parametrize('case', CASES)
def test_forward_and_backward_equal_the_reference(case, aligned):
    n, c, h, w, outsize, scale, sampling, r, dtype = case
    rng = numpy.random.RandomState(r)
    x = rng.randn(n, c, h, w).astype(dtype)
    rois = random_rois(rng, r, (h / scale, w / scale), dtype)
    roi_indices = rng.randint(0, n, r).astype(numpy.int32)
    gy = rng.randn(r, c, *outsize).astype(dtype)
    y, gx = run(x, rois, roi_indices, outsize, scale, sampling, aligned, gy)
    assert y.shape == (r, c) + outsize and y.dtype == dtype
    assert gx.shape == x.shape and gx.dtype == dtype
    ref_y = roi_align_reference(x, rois, roi_indices, outsize, scale,
                                sampling, aligned)
    ref_gx = roi_align_backward_reference(gy, rois, roi_indices, x.shape,
                                          scale, sampling, aligned)
    mag_y, mag_gx = magnitudes(x, rois, roi_indices, outsize, scale,
                               sampling, aligned, gy)
    assert_close_to_rounding(y, ref_y, mag_y, UNITS)
    assert_close_to_rounding(gx, ref_gx, mag_gx, UNITS)
    assert numpy.abs(ref_y).max() > 0    # the case samples something


def test_hand_made_boxes():
    # x[h, w] = 10 h + w is linear, so every sample inside the map
    # interpolates it exactly and a bin is the value at its samples' mean.
    x = (10 * numpy.arange(6)[:, None] + numpy.arange(8)[None, :]).astype(
        numpy.float64)[None, None]
    rois = numpy.array([[16, 16, 48, 80],     # cells 1..3 x 1..5, 2 x 2 bins
                        [0, 0, 16, 16]],      # cells 0..1, one bin
                       dtype=numpy.float64)
    y, _ = run(x, rois, numpy.zeros(2, numpy.int32), (2, 2), 1 / 16, (2, 2),
               False)
    # First RoI: bins 1 x 2 cells; samples at y 1.25, 1.75 | 2.25, 2.75 and
    # x 1.5, 2.5 | 3.5, 4.5.
    numpy.testing.assert_allclose(y[0, 0], [[15 + 2, 15 + 4],
                                            [25 + 2, 25 + 4]], rtol=1e-15)
    # Second RoI: one cell (0..1), bins of half a cell, samples at 0.125,
    # 0.375 | 0.625, 0.875 on both axes.
    numpy.testing.assert_allclose(y[1, 0], [[2.75, 3.25], [7.75, 8.25]],
                                  rtol=1e-15)
    # aligned: the same RoI half a cell up and left; adaptive: 1 sample
    y, _ = run(x, rois[:1], numpy.zeros(1, numpy.int32), (2, 2), 1 / 16,
               (0, 0), True)
    numpy.testing.assert_allclose(y[0, 0], [[10 * 1 + 1.5, 10 * 1 + 3.5],
                                            [10 * 2 + 1.5, 10 * 2 + 3.5]],
                                  rtol=1e-15)


def test_the_map_border():
    # A sample from -1 to 0 reads the first cell, one at or past the last
    # cell reads the last cell alone, one below -1 or beyond the map reads
    # nothing and still counts in the mean. x[h, w] = 4 h + w + 1.
    x = numpy.arange(1, 13, dtype=numpy.float64).reshape(1, 1, 3, 4)
    cases = [
        # (sample (y, x) in cells, expected value)
        ((-0.4, 1.0), 2.0),      # row 0
        ((-1.0, 1.0), 2.0),      # -1 itself is inside
        ((3.0, 1.0), 10.0),      # y = H: the last row
        ((2.0, 3.5), 12.0),      # x past the last column
        ((1.5, 0.5), 7.5),       # inside: bilinear
        ((-1.3, 1.0), 0.0),      # below -1: empty
        ((3.3, 1.0), 0.0),       # beyond H: empty
    ]
    for (py, px), expected in cases:
        # A point RoI, at the sample, with `aligned` (which keeps a zero
        # extent and subtracts half a cell) and one sample.
        rois = (numpy.array([[py, px, py, px]]) + 0.5) * 16
        y, _ = run(x, rois, numpy.zeros(1, numpy.int32), 1, 1 / 16, (1, 1),
                   True)
        assert y.item() == pytest.approx(expected, abs=1e-12), (py, px)
    # Two samples at y -2 (empty) and 0 (row 0): the mean is half of x[0, 1].
    rois = numpy.array([[-2.5, 1.5, 1.5, 1.5]]) * 16
    y, _ = run(x, rois, numpy.zeros(1, numpy.int32), 1, 1 / 16, (2, 1), True)
    assert y.item() == pytest.approx(1.0, abs=1e-12)


def test_no_rois():
    x = numpy.ones((1, 3, 4, 4), dtype=numpy.float32)
    xv = chainer.Variable(x)
    y = roi_align_2d(xv, numpy.zeros((0, 4), numpy.float32),
                     numpy.zeros(0, numpy.int32), 7, 1 / 16)
    assert y.shape == (0, 3, 7, 7)
    chainer.functions.sum(y).backward()
    numpy.testing.assert_array_equal(xv.grad, 0)


@pytest.mark.parametrize('aligned', [False, True])
def test_rois_outside_the_image(aligned):
    rng = numpy.random.RandomState(0)
    x = rng.randn(1, 2, 5, 6).astype(numpy.float32)
    rois = numpy.array([[-300, -300, -100, -100],   # beyond -1 cell
                        [200, 10, 400, 50],         # below the map
                        [10, 500, 50, 900]],        # right of it
                       dtype=numpy.float32)
    gy = rng.randn(3, 2, 3, 3).astype(numpy.float32)
    for sampling in ((2, 2), (0, 0)):
        y, gx = run(x, rois, numpy.zeros(3, numpy.int32), 3, 1 / 16,
                    sampling, aligned, gy)
        numpy.testing.assert_array_equal(y, 0)
        numpy.testing.assert_array_equal(gx, 0)


@pytest.mark.parametrize('aligned', [False, True])
@pytest.mark.parametrize('sampling', [(2, 2), (0, 0)])
def test_degenerate_boxes(aligned, sampling):
    # Zero height, zero width, a point, inverted: as the reference (which
    # follows torchvision: without `aligned` a RoI is at least one cell;
    # with it, an adaptive grid of a zero extent has no sample).
    rng = numpy.random.RandomState(1)
    x = rng.randn(1, 2, 6, 7).astype(numpy.float64)
    rois = numpy.array([[40, 20, 40, 80],
                        [20, 40, 70, 40],
                        [50, 50, 50, 50],
                        [70, 80, 20, 30]], dtype=numpy.float64)
    roi_indices = numpy.zeros(4, numpy.int32)
    gy = rng.randn(4, 2, 2, 3)
    y, gx = run(x, rois, roi_indices, (2, 3), 1 / 16, sampling, aligned, gy)
    ref_y = roi_align_reference(x, rois, roi_indices, (2, 3), 1 / 16,
                                sampling, aligned)
    ref_gx = roi_align_backward_reference(gy, rois, roi_indices, x.shape,
                                          1 / 16, sampling, aligned)
    numpy.testing.assert_allclose(y, ref_y, rtol=0, atol=1e-14)
    numpy.testing.assert_allclose(gx, ref_gx, rtol=0, atol=1e-14)
    if aligned and sampling == (0, 0):
        # a zero extent is an empty grid; inverted too
        numpy.testing.assert_array_equal(y, 0)
    else:
        assert (y[:3] != 0).all()


@pytest.mark.parametrize('aligned', [False, True])
@pytest.mark.parametrize('sampling', [(2, 2), (0, 0)])
def test_non_finite_rois_give_zeros(aligned, sampling):
    # Defined as torchvision's kernel behaves: a sample at a NaN or
    # infinite position is empty, an adaptive grid of a non-finite (or
    # huge) extent has no sample. No warning, no error, no effect on the
    # other RoIs.
    rng = numpy.random.RandomState(2)
    x = rng.randn(1, 2, 5, 6).astype(numpy.float32)
    inf, nan = numpy.inf, numpy.nan
    good = [8, 8, 60, 70]
    rois = numpy.array([good, [nan, 0, 40, 40], [0, 0, inf, 40],
                        [-inf, -inf, inf, inf], [0, nan, nan, 40],
                        [0, 0, 1e30, 1e30], good], dtype=numpy.float32)
    gy = rng.randn(len(rois), 2, 2, 2).astype(numpy.float32)
    y, gx = run(x, rois, numpy.zeros(len(rois), numpy.int32), 2, 1 / 16,
                sampling, aligned, gy)
    assert numpy.isfinite(y).all() and numpy.isfinite(gx).all()
    # (with a fixed grid the huge RoI's samples are finite and beyond the
    # map; the others' are NaN or infinite)
    numpy.testing.assert_array_equal(y[1:-1], 0)
    numpy.testing.assert_array_equal(y[0], y[-1])
    assert (y[0] != 0).all()
    # only the two good RoIs reach x
    _, gx_good = run(x, rois[[0, -1]], numpy.zeros(2, numpy.int32), 2,
                     1 / 16, sampling, aligned, gy[[0, -1]])
    numpy.testing.assert_allclose(gx, gx_good, rtol=0, atol=1e-6)


@pytest.mark.parametrize('aligned', [False, True])
def test_an_image_smaller_than_one_stride(aligned):
    # A 10 x 12 pixel image at 1/16 is a one-cell map (and a 1 x 3 one):
    # every sample reads what is there.
    rng = numpy.random.RandomState(3)
    for shape in ((1, 1), (1, 3)):
        x = rng.randn(2, 3, *shape).astype(numpy.float32)
        rois = numpy.array([[0, 0, 10, 12], [2, 3, 9, 40]], numpy.float32)
        roi_indices = numpy.array([1, 0], numpy.int32)
        gy = rng.randn(2, 3, 7, 7).astype(numpy.float32)
        for sampling in ((2, 2), (0, 0)):
            y, gx = run(x, rois, roi_indices, 7, 1 / 16, sampling, aligned,
                        gy)
            ref_y = roi_align_reference(x, rois, roi_indices, (7, 7),
                                        1 / 16, sampling, aligned)
            ref_gx = roi_align_backward_reference(
                gy, rois, roi_indices, x.shape, 1 / 16, sampling, aligned)
            numpy.testing.assert_allclose(y, ref_y, rtol=1e-6, atol=1e-6)
            numpy.testing.assert_allclose(gx, ref_gx, rtol=1e-5, atol=1e-5)
        if shape == (1, 1) and not aligned:
            # one cell: every sample of the first RoI reads it with weight 1
            numpy.testing.assert_allclose(
                y[0], numpy.broadcast_to(x[1, :, :1, :1], (3, 7, 7)),
                rtol=1e-6)


def test_an_empty_map():
    x = numpy.ones((1, 2, 0, 5), dtype=numpy.float32)
    y, gx = run(x, numpy.array([[0, 0, 30, 30]], numpy.float32),
                numpy.zeros(1, numpy.int32), 2, 1 / 16, (2, 2), False,
                numpy.ones((1, 2, 2, 2), numpy.float32))
    numpy.testing.assert_array_equal(y, 0)
    assert gx.shape == x.shape


def test_roi_indices_out_of_range():
    x = numpy.ones((2, 3, 4, 4), dtype=numpy.float32)
    rois = numpy.zeros((2, 4), numpy.float32)
    for bad in ([0, 2], [-1, 0]):
        with pytest.raises(ValueError, match=r'roi_indices must be in '
                                             r'\[0, 2\).*got {}'.format(
                                                 max(bad, key=abs))):
            roi_align_2d(x, rois, numpy.array(bad, numpy.int32), 7, 1 / 16)


def test_argument_errors():
    x = numpy.ones((1, 3, 4, 4), dtype=numpy.float32)
    rois = numpy.zeros((2, 4), numpy.float32)
    idx = numpy.zeros(2, numpy.int32)
    with pytest.raises(ValueError, match='outsize'):
        roi_align_2d(x, rois, idx, 0, 1 / 16)
    with pytest.raises(ValueError, match='outsize'):
        roi_align_2d(x, rois, idx, (7, 7, 7), 1 / 16)
    with pytest.raises(TypeError, match='outsize'):
        roi_align_2d(x, rois, idx, 7.0, 1 / 16)
    with pytest.raises(TypeError, match='outsize'):
        roi_align_2d(x, rois, idx, (7, None), 1 / 16)
    for scale in (0, -1, float('nan'), float('inf'), True, '1'):
        with pytest.raises(ValueError, match='spatial_scale'):
            roi_align_2d(x, rois, idx, 7, scale)
    with pytest.raises(ValueError, match='sampling_ratio'):
        roi_align_2d(x, rois, idx, 7, 1 / 16, sampling_ratio=0)
    with pytest.raises(ValueError, match='sampling_ratio'):
        roi_align_2d(x, rois, idx, 7, 1 / 16, sampling_ratio=(2, -1))
    with pytest.raises(TypeError, match='sampling_ratio'):
        roi_align_2d(x, rois, idx, 7, 1 / 16, sampling_ratio=1.5)
    # accepted: an int, a pair, None for one axis
    for sampling in (2, (1, 3), (None, 2), None):
        assert roi_align_2d(x, rois, idx, (2, 3), 1 / 16,
                            sampling).shape == (2, 3, 2, 3)


def test_type_errors():
    x = numpy.ones((1, 3, 4, 4), dtype=numpy.float32)
    with pytest.raises(chainer.utils.type_check.InvalidType):
        roi_align_2d(x, numpy.zeros((2, 5), numpy.float32),
                     numpy.zeros(2, numpy.int32), 7, 1 / 16)
    with pytest.raises(chainer.utils.type_check.InvalidType):
        roi_align_2d(x, numpy.zeros((2, 4), numpy.float64),
                     numpy.zeros(2, numpy.int32), 7, 1 / 16)
    with pytest.raises(chainer.utils.type_check.InvalidType):
        roi_align_2d(x, numpy.zeros((2, 4), numpy.float32),
                     numpy.zeros(2, numpy.int64), 7, 1 / 16)
    with pytest.raises(chainer.utils.type_check.InvalidType):
        roi_align_2d(x[0], numpy.zeros((2, 4), numpy.float32),
                     numpy.zeros(2, numpy.int32), 7, 1 / 16)


def test_the_node_keeps_its_arguments():
    node = RoIAlign2D(3, 4, 0.25, (0, 2), True)
    y, = node.apply((numpy.ones((1, 2, 5, 5)), numpy.array([[0., 0, 8, 8]]),
                     numpy.zeros(1, numpy.int32)))
    assert y.shape == (1, 2, 3, 4)
    assert node.geometry.count.tolist() == [1 * 2]   # ceil(2 / 3) x 2


# RoIAlign is linear in x, so the finite differences of check_backward are
# exact up to rounding whatever the RoIs; these keep the samples off the
# cell edges anyway (where the op is not differentiable in the RoIs, which
# get no gradient).
@pytest.mark.parametrize('aligned', [False, True])
@pytest.mark.parametrize('sampling', [2, None, (1, 3)])
def test_check_backward_float64(aligned, sampling):
    rng = numpy.random.RandomState(0)
    x = rng.randn(2, 3, 6, 5)
    rois = numpy.array([[3, 5, 70, 60], [-10, 13, 90, 77], [33, 1, 51, 40],
                        [0, 0, 95, 79], [20, 30, 21, 31]], numpy.float64)
    roi_indices = numpy.array([0, 1, 1, 0, 1], numpy.int32)
    gy = rng.randn(5, 3, 3, 2)

    def f(x):
        return roi_align_2d(x, rois, roi_indices, (3, 2), 1 / 16, sampling,
                            aligned)

    gradient_check.check_backward(f, x, gy, eps=1e-3, atol=1e-9, rtol=1e-9,
                                  dtype=numpy.float64)


@pytest.mark.parametrize('aligned', [False, True])
def test_check_double_backward_float64(aligned):
    rng = numpy.random.RandomState(1)
    x = rng.randn(1, 2, 5, 5)
    rois = random_rois(rng, 4, (80, 80), numpy.float64)
    roi_indices = numpy.zeros(4, numpy.int32)
    gy = rng.randn(4, 2, 2, 2)
    ggx = rng.randn(*x.shape)

    def f(x):
        return roi_align_2d(x, rois, roi_indices, 2, 1 / 16, None, aligned)

    gradient_check.check_double_backward(f, x, gy, ggx, eps=1e-3,
                                         atol=1e-9, rtol=1e-9,
                                         dtype=numpy.float64)
