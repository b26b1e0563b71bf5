"""ProposalTargetCreator (fasterrcnn/creators/proposal_target.py)."""

import numpy

from fasterrcnn.boxes import bbox2loc
from fasterrcnn.creators import ProposalTargetCreator


def test_hand_made_case():
    roi = numpy.array([[0, 0, 10, 10],      # IoU 1 with box 0 -> fg
                       [0, 0, 10, 12],      # IoU 100/120 -> fg
                       [0, 5, 10, 15],      # IoU 50/150 -> bg
                       [50, 50, 60, 60]],   # IoU 0 -> bg
                      dtype=numpy.float32)
    bbox = numpy.array([[0, 0, 10, 10]], dtype=numpy.float32)
    label = numpy.array([4], dtype=numpy.int32)
    sample_roi, loc, gt_label = ProposalTargetCreator(n_sample=8)(
        roi, bbox, label, numpy.random.RandomState(0))
    # 8 * 0.25 = 2 foreground slots: two of {roi 0, roi 1, the appended gt}
    assert len(sample_roi) == 4
    assert (gt_label[:2] == 5).all() and (gt_label[2:] == 0).all()
    assert gt_label.dtype == numpy.int32
    # loc targets are normalised by std (.1, .1, .2, .2)
    expected = bbox2loc(sample_roi, numpy.repeat(bbox, 4, axis=0)) / \
        numpy.array([0.1, 0.1, 0.2, 0.2], numpy.float32)
    numpy.testing.assert_allclose(loc, expected, rtol=1e-6)
    # the background rows are rois 2 and 3
    bg = {tuple(r) for r in sample_roi[2:].tolist()}
    assert bg == {(0, 5, 10, 15), (50, 50, 60, 60)}


def test_ground_truth_is_appended():
    roi = numpy.array([[50, 50, 60, 60]], dtype=numpy.float32)
    bbox = numpy.array([[0, 0, 10, 10]], dtype=numpy.float32)
    sample_roi, _, gt_label = ProposalTargetCreator()(
        roi, bbox, numpy.array([0], numpy.int32),
        numpy.random.RandomState(0))
    numpy.testing.assert_array_equal(sample_roi[0], bbox[0])
    numpy.testing.assert_array_equal(gt_label, [1, 0])


def test_no_ground_truth_all_background():
    roi = numpy.array([[0, 0, 10, 10], [5, 5, 20, 20]], dtype=numpy.float32)
    sample_roi, loc, gt_label = ProposalTargetCreator()(
        roi, numpy.zeros((0, 4), numpy.float32),
        numpy.zeros((0,), numpy.int32), numpy.random.RandomState(0))
    assert len(sample_roi) == 2
    assert (gt_label == 0).all() and (loc == 0).all()


def test_ground_truth_larger_than_the_image_and_no_rois():
    bbox = numpy.array([[-20, -20, 500, 600]], dtype=numpy.float32)
    sample_roi, loc, gt_label = ProposalTargetCreator()(
        numpy.zeros((0, 4), numpy.float32), bbox,
        numpy.array([2], numpy.int32), numpy.random.RandomState(0))
    numpy.testing.assert_array_equal(sample_roi, bbox)
    numpy.testing.assert_array_equal(gt_label, [3])
    numpy.testing.assert_array_equal(loc, 0)


def test_sampling_counts_and_reproducibility():
    rng = numpy.random.RandomState(0)
    centre = rng.uniform(0, 100, (500, 2))
    roi = numpy.concatenate([centre - 10, centre + 10], axis=1).astype(
        numpy.float32)
    bbox = numpy.array([[20, 20, 40, 40], [60, 60, 80, 80]], numpy.float32)
    label = numpy.array([0, 1], numpy.int32)
    creator = ProposalTargetCreator(n_sample=64)
    a = creator(roi, bbox, label, numpy.random.RandomState(1))
    b = creator(roi, bbox, label, numpy.random.RandomState(1))
    assert len(a[0]) == 64 and (a[2] > 0).sum() <= 16
    for x, y in zip(a, b):
        numpy.testing.assert_array_equal(x, y)


def test_degenerate_ground_truth_gives_finite_targets():
    roi = numpy.array([[0, 0, 10, 10], [4, 4, 6, 6]], dtype=numpy.float32)
    bbox = numpy.array([[5, 5, 5, 5], [0, 0, 10, 10]], dtype=numpy.float32)
    sample_roi, loc, gt_label = ProposalTargetCreator()(
        roi, bbox, numpy.array([0, 1], numpy.int32),
        numpy.random.RandomState(0))
    assert numpy.isfinite(loc).all()
    # the degenerate box itself (appended) is a background RoI
    assert (gt_label[(sample_roi == bbox[0]).all(axis=1)] == 0).all()
