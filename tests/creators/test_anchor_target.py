"""AnchorTargetCreator (fasterrcnn/creators/anchor_target.py)."""

import chainer
import numpy

from fasterrcnn.boxes import bbox2loc
from fasterrcnn.creators import AnchorTargetCreator, ProposalTargetCreator


def grid_anchors():
    """Nine 10 x 10 anchors on a 3 x 3 grid of step 10, plus two outside."""
    anchor = [[y, x, y + 10, x + 10] for y in (0, 10, 20) for x in (0, 10, 20)]
    anchor += [[-5, 0, 5, 10], [25, 25, 35, 35]]   # cross the 30 x 30 border
    return numpy.array(anchor, dtype=numpy.float32)


def test_hand_made_labels():
    anchor = grid_anchors()
    bbox = numpy.array([[0, 0, 10, 10],       # exactly anchor 0
                        [12, 12, 22, 22]],    # IoU 64/136 with anchor 4
                       dtype=numpy.float32)
    loc, label = AnchorTargetCreator(n_sample=256)(
        bbox, anchor, (30, 30), numpy.random.RandomState(0))
    assert label.dtype == numpy.int32 and loc.dtype == numpy.float32
    # anchor 0: IoU 1 -> positive; anchor 4: best anchor of box 1 -> positive
    assert label[0] == 1 and label[4] == 1
    # anchors 5, 7, 8 overlap box 1 by IoU 0.09..0.2 < 0.3 -> negative
    assert (label[[1, 2, 3, 5, 6, 7, 8]] == 0).all()
    # the two anchors crossing the border are ignored
    assert (label[9:] == -1).all() and (loc[9:] == 0).all()
    numpy.testing.assert_allclose(loc[4], bbox2loc(anchor[4:5], bbox[1:2])[0])
    numpy.testing.assert_array_equal(loc[0], 0)


def test_no_ground_truth_every_inside_anchor_is_negative():
    anchor = grid_anchors()
    loc, label = AnchorTargetCreator(n_sample=4)(
        numpy.zeros((0, 4), numpy.float32), anchor, (30, 30),
        numpy.random.RandomState(0))
    assert (label == 1).sum() == 0
    assert (label == 0).sum() == 4          # subsampled to n_sample
    assert (label[9:] == -1).all()
    assert (loc == 0).all()


def test_ground_truth_larger_than_the_image():
    anchor = grid_anchors()
    bbox = numpy.array([[-50, -50, 100, 100]], dtype=numpy.float32)
    loc, label = AnchorTargetCreator()(bbox, anchor, (30, 30),
                                       numpy.random.RandomState(0))
    # every anchor ties for the best IoU of the box: all inside positive
    assert (label[:9] == 1).all() and (label[9:] == -1).all()
    assert numpy.isfinite(loc).all()


def test_box_touching_the_border_and_anchor_on_the_border():
    # An anchor whose edge lies on the border is inside (<= H, >= 0).
    anchor = numpy.array([[20, 20, 30, 30], [20, 20, 30, 31]],
                         dtype=numpy.float32)
    bbox = numpy.array([[20, 20, 30, 30]], dtype=numpy.float32)
    loc, label = AnchorTargetCreator()(bbox, anchor, (30, 30),
                                       numpy.random.RandomState(0))
    numpy.testing.assert_array_equal(label, [1, -1])


def test_degenerate_ground_truth_makes_no_positive():
    anchor = grid_anchors()
    bbox = numpy.array([[5, 5, 5, 5]], dtype=numpy.float32)
    loc, label = AnchorTargetCreator()(bbox, anchor, (30, 30),
                                       numpy.random.RandomState(0))
    assert (label == 1).sum() == 0
    assert numpy.isfinite(loc).all()


def test_no_anchor_inside_a_tiny_image():
    anchor = grid_anchors()
    loc, label = AnchorTargetCreator()(
        numpy.array([[0, 0, 4, 4]], numpy.float32), anchor, (5, 5),
        numpy.random.RandomState(0))
    assert (label == -1).all() and (loc == 0).all()


def test_subsampling_counts_and_reproducibility():
    rng = numpy.random.RandomState(3)
    centre = rng.uniform(20, 180, (3000, 2))
    anchor = numpy.concatenate([centre - 15, centre + 15], axis=1).astype(
        numpy.float32)
    bbox = numpy.array([[50, 50, 100, 100], [120, 30, 170, 90]],
                       dtype=numpy.float32)
    creator = AnchorTargetCreator(n_sample=64, pos_ratio=0.25)
    _, label = creator(bbox, anchor, (200, 200), numpy.random.RandomState(5))
    assert (label == 1).sum() <= 16
    assert (label >= 0).sum() == 64
    _, again = creator(bbox, anchor, (200, 200), numpy.random.RandomState(5))
    numpy.testing.assert_array_equal(label, again)


def test_targets_follow_chainers_dtype():
    anchor = numpy.array([[0, 0, 16, 16], [8, 8, 40, 40]], numpy.float32)
    bbox = numpy.array([[1, 1, 17, 15]], numpy.float32)
    label = numpy.array([3], numpy.int32)
    for dtype in (numpy.float32, numpy.float64):
        with chainer.using_config('dtype', numpy.dtype(dtype)):
            loc, _ = AnchorTargetCreator()(bbox, anchor, (48, 48))
            _, roi_loc, _ = ProposalTargetCreator()(
                anchor.astype(dtype), bbox, label,
                numpy.random.RandomState(0))
            empty_loc, _ = AnchorTargetCreator()(
                numpy.zeros((0, 4), numpy.float32), anchor, (48, 48))
        assert loc.dtype == roi_loc.dtype == empty_loc.dtype == dtype
    # The float32 run's numbers, in float64 to rounding.
    with chainer.using_config('dtype', numpy.dtype(numpy.float64)):
        loc64, label64 = AnchorTargetCreator()(bbox, anchor, (48, 48))
    loc32, label32 = AnchorTargetCreator()(bbox, anchor, (48, 48))
    numpy.testing.assert_array_equal(label64, label32)
    numpy.testing.assert_allclose(loc64, loc32, rtol=1e-6, atol=1e-7)
