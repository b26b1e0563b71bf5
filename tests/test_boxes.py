"""Box coding, IoU and anchors (fasterrcnn/boxes.py)."""

import os

import numpy
import pytest

from fasterrcnn.boxes import (MAX_LOG_SCALE, BoxShapeError, bbox2loc, bbox_iou,
                              clip_bbox, enumerate_shifted_anchor,
                              generate_anchor_base, loc2bbox)

GOLDEN = os.path.join(os.path.dirname(__file__), 'data', 'golden')


def random_bbox(rng, n, size=100.):
    corner = rng.uniform(0, size, (n, 2, 2)).astype(numpy.float32)
    return numpy.concatenate(
        (corner.min(axis=1), corner.max(axis=1) + 1), axis=1)


def test_bbox_iou_hand_computed():
    a = numpy.array([[0, 0, 10, 10]], dtype=numpy.float32)
    b = numpy.array([[0, 0, 10, 10],     # same box
                     [5, 5, 15, 15],     # 25 / (100 + 100 - 25)
                     [10, 10, 20, 20],   # touching corner: no overlap
                     [0, 0, 10, 5]],     # contained: 50 / 100
                    dtype=numpy.float32)
    iou = bbox_iou(a, b)
    numpy.testing.assert_allclose(iou, [[1, 25 / 175, 0, 0.5]], rtol=1e-6)
    assert iou.dtype == numpy.float32


def test_bbox_iou_degenerate_boxes_give_zero_not_nan():
    a = numpy.array([[5, 5, 5, 5], [0, 0, 10, 10]], dtype=numpy.float32)
    iou = bbox_iou(a, a)
    assert not numpy.isnan(iou).any()
    numpy.testing.assert_array_equal(iou, [[0, 0], [0, 1]])


def test_bbox_iou_nan_for_empty_union():
    # chainercv's rule: 0 / 0 for two empty boxes; every other pair equal.
    a = numpy.array([[5, 5, 5, 5], [0, 0, 10, 10]], dtype=numpy.float32)
    iou = bbox_iou(a, a, nan_for_empty=True)
    assert numpy.isnan(iou[0, 0])
    numpy.testing.assert_array_equal(iou[[0, 1, 1], [1, 0, 1]], [0, 0, 1])


def test_bbox_iou_empty_and_bad_shape():
    a = numpy.zeros((0, 4), dtype=numpy.float32)
    b = numpy.ones((3, 4), dtype=numpy.float32)
    assert bbox_iou(a, b).shape == (0, 3)
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        bbox_iou(numpy.zeros((2, 5)), b)
    # chainercv raised IndexError for this: code catching that still works.
    with pytest.raises(IndexError):
        bbox_iou(b, numpy.zeros((2, 3)))
    with pytest.raises(BoxShapeError):
        bbox_iou(numpy.zeros(4), b)


def test_bbox2loc_hand_computed():
    src = numpy.array([[0, 0, 10, 20]], dtype=numpy.float32)
    dst = numpy.array([[5, 0, 25, 20]], dtype=numpy.float32)
    # centres (5, 10) -> (15, 10); heights 10 -> 20, widths 20 -> 20
    numpy.testing.assert_allclose(
        bbox2loc(src, dst), [[1.0, 0.0, numpy.log(2), 0.0]], rtol=1e-6)


def test_bbox2loc_and_loc2bbox_are_inverses():
    rng = numpy.random.RandomState(0)
    src = random_bbox(rng, 50)
    dst = random_bbox(rng, 50)
    loc = bbox2loc(src, dst)
    numpy.testing.assert_allclose(loc2bbox(src, loc), dst, atol=1e-3)
    loc = rng.uniform(-1, 1, (50, 4)).astype(numpy.float32)
    numpy.testing.assert_allclose(bbox2loc(src, loc2bbox(src, loc)), loc,
                                  atol=1e-4)


def test_loc2bbox_several_classes_and_empty():
    rng = numpy.random.RandomState(1)
    src = random_bbox(rng, 7)
    loc = rng.uniform(-1, 1, (7, 12)).astype(numpy.float32)
    out = loc2bbox(src, loc)
    assert out.shape == (7, 12)
    for k in range(3):
        numpy.testing.assert_array_equal(
            out[:, 4 * k:4 * k + 4], loc2bbox(src, loc[:, 4 * k:4 * k + 4]))
    empty = loc2bbox(numpy.zeros((0, 4), numpy.float32),
                     numpy.zeros((0, 84), numpy.float32))
    assert empty.shape == (0, 84)


def test_loc2bbox_large_scale_stays_finite_after_clipping():
    src = numpy.array([[10, 10, 20, 20]] * 3, dtype=numpy.float32)
    loc = numpy.array([[0, 0, 1e4, 1e4],
                       [0, 0, MAX_LOG_SCALE + 1, 0],
                       [1e30, -1e30, 1e4, 1e4]], dtype=numpy.float32)
    box = loc2bbox(src, loc)
    assert not numpy.isnan(box).any()
    clipped = clip_bbox(box, (100, 200))
    assert numpy.isfinite(clipped).all()
    # Growing a box past the image gives the whole extent, as an unclamped
    # exp would.
    numpy.testing.assert_array_equal(clipped[0], [0, 0, 100, 200])


def test_bbox2loc_degenerate_source_is_finite():
    src = numpy.array([[5, 5, 5, 5]], dtype=numpy.float32)
    dst = numpy.array([[0, 0, 10, 10]], dtype=numpy.float32)
    assert numpy.isfinite(bbox2loc(src, dst)).all()


def test_clip_bbox():
    box = numpy.array([[-5, -1, 50, 70], [3, 4, 5, 6]], dtype=numpy.float32)
    numpy.testing.assert_array_equal(
        clip_bbox(box, (40, 60)), [[0, 0, 40, 60], [3, 4, 5, 6]])


def test_anchor_base_shapes_and_ratios():
    base = generate_anchor_base(16, (0.5, 1, 2), (8, 16, 32))
    assert base.shape == (9, 4) and base.dtype == numpy.float32
    h = base[:, 2] - base[:, 0]
    w = base[:, 3] - base[:, 1]
    numpy.testing.assert_allclose(h / w, numpy.repeat([0.5, 1, 2], 3),
                                  rtol=1e-5)
    numpy.testing.assert_allclose((base[:, 0] + base[:, 2]) / 2, 8)
    numpy.testing.assert_allclose(numpy.sqrt(h * w),
                                  numpy.tile([128, 256, 512], 3), rtol=1e-5)


def test_shifted_anchor_order():
    base = generate_anchor_base()
    anchor = enumerate_shifted_anchor(base, 16, 2, 3)
    assert anchor.shape == (2 * 3 * 9, 4) and anchor.dtype == numpy.float32
    # cell (y=1, x=2) is the last; its anchors are the base moved by (16, 32)
    numpy.testing.assert_array_equal(
        anchor[-9:], base + numpy.float32([16, 32, 16, 32]))
    numpy.testing.assert_array_equal(
        anchor[9:18], base + numpy.float32([0, 16, 0, 16]))


@pytest.mark.parametrize('name', ['sfr_seed0.npz', 'sfr_seed1.npz'])
def test_anchors_equal_the_pytorch_version(name):
    golden = numpy.load(os.path.join(GOLDEN, name))
    h, w = golden['features'].shape[2:]
    anchor = enumerate_shifted_anchor(generate_anchor_base(), 16, h, w)
    numpy.testing.assert_array_equal(anchor, golden['anchor'])


def test_loc2bbox_float32_anchors_with_float64_offsets():
    # The float64 parity run: the anchors stay float32, their sizes and
    # centres are computed in float32 (as the PyTorch version does), the
    # offsets and everything after them in float64.
    src = numpy.array([[0.1, 0.3, 300.7, 200.9]],
                      numpy.float32)
    loc = numpy.array([[0.1, -0.2, 0.3, -0.4]])
    out = loc2bbox(src, loc)
    assert out.dtype == numpy.float64
    h = src[:, 2] - src[:, 0]              # float32 arithmetic
    w = src[:, 3] - src[:, 1]
    cy = src[:, 0] + numpy.float32(0.5) * h
    cx = src[:, 1] + numpy.float32(0.5) * w
    assert h.dtype == numpy.float32
    ctr_y = loc[:, 0] * h + cy
    ctr_x = loc[:, 1] * w + cx
    hh = numpy.exp(loc[:, 2]) * h
    ww = numpy.exp(loc[:, 3]) * w
    expected = numpy.stack([ctr_y - 0.5 * hh, ctr_x - 0.5 * ww,
                            ctr_y + 0.5 * hh, ctr_x + 0.5 * ww], 1)
    numpy.testing.assert_array_equal(out, expected)
    # Casting the anchors first would give other float64 numbers.
    assert not numpy.array_equal(loc2bbox(src.astype(numpy.float64), loc),
                                 out)


def test_loc2bbox_float32_unchanged_and_wider_source_cast_down():
    rng = numpy.random.RandomState(0)
    src = rng.uniform(0, 100, (50, 4)).astype(numpy.float32)
    src[:, 2:] += src[:, :2]
    loc = rng.normal(0, 0.2, (50, 8)).astype(numpy.float32)
    out = loc2bbox(src, loc)
    assert out.dtype == numpy.float32
    # A float64 source with float32 offsets computes in float32, as before.
    numpy.testing.assert_array_equal(
        loc2bbox(src.astype(numpy.float64), loc), out)
