"""eval_detection_voc on cases computed by hand."""

import numpy
import pytest

from fasterrcnn.evaluation.voc import (calc_detection_voc_ap,
                                       calc_detection_voc_prec_rec,
                                       eval_detection_voc)


def boxes(*rows):
    return numpy.array(rows, dtype=numpy.float32).reshape(-1, 4)


def ints(*values):
    return numpy.array(values, dtype=numpy.int32)


def floats(*values):
    return numpy.array(values, dtype=numpy.float32)


def both_metrics(*args, **kwargs):
    return (eval_detection_voc(*args, use_07_metric=False, **kwargs),
            eval_detection_voc(*args, use_07_metric=True, **kwargs))


def test_perfect_detections():
    gt_bboxes = [boxes([0, 0, 10, 10], [20, 20, 40, 50]),
                 boxes([5, 5, 30, 30])]
    gt_labels = [ints(0, 1), ints(1)]
    scores = [floats(0.9, 0.3), floats(0.6)]
    for result in both_metrics(gt_bboxes, gt_labels, scores, gt_bboxes,
                               gt_labels):
        numpy.testing.assert_array_equal(result['ap'], [1.0, 1.0])
        assert result['ap'].dtype == numpy.float64
        assert result['map'] == 1.0


def test_duplicate_detection_is_a_false_positive():
    # Two objects A and B; detections: A (0.9), A again (0.8), B (0.7).
    # Outcomes TP, FP, TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    # Area: 1/2 * 1 + 1/2 * 2/3 = 5/6.
    # 11-point: t = 0 .. 0.5 (6 points) best precision 1, t = 0.6 .. 1
    # (5 points) 2/3: (6 + 10/3) / 11 = 28/33.
    a, b = [0, 0, 9, 9], [50, 50, 59, 59]
    args = ([boxes(a, a, b)], [ints(0, 0, 0)], [floats(0.9, 0.8, 0.7)],
            [boxes(a, b)], [ints(0, 0)])
    prec, rec = calc_detection_voc_prec_rec(*args)
    numpy.testing.assert_allclose(prec[0], [1, 1 / 2, 2 / 3])
    numpy.testing.assert_allclose(rec[0], [1 / 2, 1 / 2, 1])
    area, eleven = both_metrics(*args)
    assert area['ap'][0] == pytest.approx(5 / 6)
    assert eleven['ap'][0] == pytest.approx(28 / 33)


def test_duplicate_of_best_match_is_false_even_if_another_box_fits():
    # As the devkit: a detection goes to its best-IoU box only. The second
    # detection's best box (A) is taken, so it is a false positive although
    # it also overlaps the free box B with IoU >= 0.5.
    a, b = [0, 0, 9, 9], [0, 2, 9, 11]   # IoU(A, B) = 80 / 120
    det = [0, 0, 9, 10]                  # IoU 100/110 with A, 90/120 with B
    prec, rec = calc_detection_voc_prec_rec(
        [boxes(a, det)], [ints(0, 0)], [floats(0.9, 0.8)],
        [boxes(a, b)], [ints(0, 0)])
    numpy.testing.assert_allclose(prec[0], [1, 1 / 2])
    numpy.testing.assert_allclose(rec[0], [1 / 2, 1 / 2])


def test_difficult_match_is_ignored():
    # Object A normal, B difficult. Detections: B (0.9), nothing (0.8),
    # A (0.7). With the flags: B's detection is neither TP nor FP and B is
    # not a positive, so the counted outcomes are FP, TP over one positive:
    # precision 0, 1/2 at recall 0, 1 -> AP 1/2 in both metrics.
    a, b, miss = [0, 0, 9, 9], [50, 50, 59, 59], [100, 100, 109, 109]
    args = ([boxes(b, miss, a)], [ints(0, 0, 0)], [floats(0.9, 0.8, 0.7)],
            [boxes(a, b)], [ints(0, 0)])
    flags = [numpy.array([False, True])]
    prec, rec = calc_detection_voc_prec_rec(*args, gt_difficults=flags)
    numpy.testing.assert_allclose(prec[0], [0, 1 / 2])
    numpy.testing.assert_allclose(rec[0], [0, 1])
    for result in both_metrics(*args, gt_difficults=flags):
        assert result['ap'][0] == pytest.approx(1 / 2)
    # Without the flags B counts: TP, FP, TP over two positives, AP 5/6.
    assert eval_detection_voc(*args)['ap'][0] == pytest.approx(5 / 6)


def test_keep_ignored_repeats_points_with_the_same_ap():
    # Same case as above; chainercv's curves keep a point for B's detection
    # (before any counted one: 0 / 0, NaN), the AP does not change.
    a, b, miss = [0, 0, 9, 9], [50, 50, 59, 59], [100, 100, 109, 109]
    args = ([boxes(b, miss, a)], [ints(0, 0, 0)], [floats(0.9, 0.8, 0.7)],
            [boxes(a, b)], [ints(0, 0)], [numpy.array([False, True])])
    prec, rec = calc_detection_voc_prec_rec(*args, keep_ignored=True)
    numpy.testing.assert_allclose(prec[0], [numpy.nan, 0, 1 / 2])
    numpy.testing.assert_allclose(rec[0], [0, 0, 1])
    for use_07_metric in (False, True):
        assert calc_detection_voc_ap(prec, rec, use_07_metric)[0] == \
            pytest.approx(1 / 2)


def test_iterables_are_accepted():
    # Generators, as a chained predict over a data set gives them.
    gt = [boxes([0, 0, 9, 9]), boxes([5, 5, 20, 20])]
    prec, rec = calc_detection_voc_prec_rec(
        iter(gt), (ints(0) for _ in gt), (floats(0.5) for _ in gt),
        iter(gt), (ints(0) for _ in gt))
    numpy.testing.assert_allclose(prec[0], [1, 1])
    numpy.testing.assert_allclose(rec[0], [0.5, 1])


def test_ap_of_a_class_never_seen_is_nan():
    ap = calc_detection_voc_ap([None, numpy.array([1.])],
                               [None, numpy.array([1.])])
    assert numpy.isnan(ap[0]) and ap[1] == 1


def test_class_without_ground_truth_is_nan_and_left_out_of_map():
    # Class 1 is only predicted, class 2 only has a difficult object.
    gt_bbox = boxes([0, 0, 9, 9], [20, 20, 29, 29])
    for result in both_metrics(
            [boxes([0, 0, 9, 9], [40, 40, 49, 49])], [ints(0, 1)],
            [floats(0.9, 0.8)], [gt_bbox], [ints(0, 2)],
            gt_difficults=[numpy.array([False, True])]):
        assert result['ap'].shape == (3,)
        assert result['ap'][0] == 1.0
        assert numpy.isnan(result['ap'][1]) and numpy.isnan(result['ap'][2])
        assert result['map'] == 1.0


def test_hand_computed_precision_recall_and_both_metrics():
    # One class, three images, four objects G1 .. G4 (4 positives).
    g1, g2 = [0, 0, 9, 9], [30, 30, 39, 39]
    g3, g4 = [10, 10, 29, 29], [5, 5, 24, 44]
    gt_bboxes = [boxes(g1, g2), boxes(g3), boxes(g4)]
    gt_labels = [ints(0, 0), ints(0), ints(0)]
    # Detections in score order:
    #   0.95 image 0 on G1                  TP  tp 1 fp 0  P 1    R 1/4
    #   0.90 image 1 far from G3            FP  tp 1 fp 1  P 1/2  R 1/4
    #   0.80 image 2 on G4                  TP  tp 2 fp 1  P 2/3  R 1/2
    #   0.70 image 0 on G2 shifted 5 px:    FP  tp 2 fp 2  P 1/2  R 1/2
    #        IoU = 50 / 150 = 1/3 < 0.5
    #   0.60 image 1 on G3                  TP  tp 3 fp 2  P 3/5  R 3/4
    pred_bboxes = [boxes(g1, [30, 35, 39, 44]),
                   boxes([80, 80, 90, 90], g3),
                   boxes(g4)]
    pred_labels = [ints(0, 0), ints(0, 0), ints(0)]
    pred_scores = [floats(0.95, 0.7), floats(0.9, 0.6), floats(0.8)]
    args = (pred_bboxes, pred_labels, pred_scores, gt_bboxes, gt_labels)
    prec, rec = calc_detection_voc_prec_rec(*args)
    numpy.testing.assert_allclose(prec[0], [1, 1 / 2, 2 / 3, 1 / 2, 3 / 5])
    numpy.testing.assert_allclose(rec[0], [1 / 4, 1 / 4, 1 / 2, 1 / 2, 3 / 4])
    area, eleven = both_metrics(*args)
    # Monotone precision: 1 up to recall 1/4, 2/3 up to 1/2, 3/5 up to 3/4,
    # 0 beyond. Area = 1/4 * 1 + 1/4 * 2/3 + 1/4 * 3/5 = 34/60.
    assert area['ap'][0] == pytest.approx(34 / 60)
    # 11-point: t = 0, .1, .2 -> 1; t = .3, .4, .5 -> 2/3; t = .6, .7 ->
    # 3/5; t = .8, .9, 1 -> 0. (3 + 2 + 6/5) / 11 = 6.2 / 11.
    assert eleven['ap'][0] == pytest.approx(6.2 / 11)
    assert area['map'] == pytest.approx(34 / 60)


def test_iou_counts_pixels_inclusively():
    # Boxes (0, 0, 1, 1) and (1, 1, 2, 2) share pixel (1, 1): with the VOC
    # +1, each has 4 pixels and IoU = 1 / 7 (it would be 0 without).
    args = ([boxes([1, 1, 2, 2])], [ints(0)], [floats(1)],
            [boxes([0, 0, 1, 1])], [ints(0)])
    assert eval_detection_voc(*args, iou_thresh=0.14)['ap'][0] == 1.0
    assert eval_detection_voc(*args, iou_thresh=0.15)['ap'][0] == 0.0
    # IoU exactly at the threshold matches: 100 / 200 = 0.5.
    assert eval_detection_voc(
        [boxes([0, 0, 9, 19])], [ints(0)], [floats(1)],
        [boxes([0, 0, 9, 9])], [ints(0)])['ap'][0] == 1.0


def test_equal_scores_keep_image_order():
    # A stable sort: with equal scores image 0's false positive ranks
    # first, so precision is 0 then 1/2 at recall 0, 1: AP 1/2.
    gt = boxes([0, 0, 9, 9])
    prec, _ = calc_detection_voc_prec_rec(
        [boxes([50, 50, 59, 59]), gt], [ints(0), ints(0)],
        [floats(0.5), floats(0.5)], [boxes(), gt], [ints(), ints(0)])
    numpy.testing.assert_allclose(prec[0], [0, 1 / 2])


def test_empty_predictions():
    gt_bboxes = [boxes([0, 0, 9, 9]), boxes([5, 5, 20, 20])]
    gt_labels = [ints(0), ints(1)]
    empty = [boxes(), boxes()], [ints(), ints()], [floats(), floats()]
    for result in both_metrics(*empty, gt_bboxes, gt_labels):
        numpy.testing.assert_array_equal(result['ap'], [0, 0])
        assert result['map'] == 0.0
    # Nothing at all: no classes, mAP NaN (and no warning).
    result = eval_detection_voc(*empty, [boxes(), boxes()], [ints(), ints()])
    assert result['ap'].shape == (0,)
    assert numpy.isnan(result['map'])


def test_bad_inputs():
    with pytest.raises(ValueError, match='one entry per image'):
        eval_detection_voc([boxes()], [ints()], [floats()], [], [])
    with pytest.raises(ValueError, match='differ in length'):
        eval_detection_voc([boxes([0, 0, 1, 1])], [ints()], [floats()],
                           [boxes()], [ints()])
    with pytest.raises(ValueError, match='shape'):
        eval_detection_voc([numpy.zeros((1, 3))], [ints(0)], [floats(1)],
                           [boxes()], [ints()])


@pytest.mark.parametrize('use_07_metric', [True, False])
def test_undefined_precision_counts_as_zero(use_07_metric):
    # precision NaN at the first point (no detection yet), 0.5 at recall 1
    ap = calc_detection_voc_ap([numpy.array([numpy.nan, 0.5])],
                               [numpy.array([0.0, 1.0])],
                               use_07_metric=use_07_metric)
    assert ap[0] == pytest.approx(0.5)
