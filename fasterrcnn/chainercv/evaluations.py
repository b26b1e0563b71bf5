"""``chainercv.evaluations``: the PASCAL VOC detection metric, with
chainercv's outputs.

The matching, the curves and the AP are :mod:`fasterrcnn.evaluation.voc`'s;
the curves are returned as chainercv returns them: one point per detection,
a detection matched to a difficult box included (it repeats the previous
point), and None for a class that no image mentions. Two details differ
from chainercv at the level of float rounding or ties only: IoU is computed
in float64 (chainercv: in the boxes' dtype), and detections of equal score
are taken in image order (chainercv's order there was unspecified).
"""

import numpy

from fasterrcnn.evaluation import voc
from fasterrcnn.evaluation.voc import calc_detection_voc_ap  # noqa: F401


def calc_detection_voc_prec_rec(pred_bboxes, pred_labels, pred_scores,
                                gt_bboxes, gt_labels, gt_difficults=None,
                                iou_thresh=0.5):
    """Precision and recall per class.

    Args: iterables with one array per image, as
        :func:`fasterrcnn.evaluation.voc.calc_detection_voc_prec_rec`:
        ``(R, 4)`` float boxes ``(y_min, x_min, y_max, x_max)``, ``(R,)``
        int labels, ``(R,)`` float scores, ``(G, 4)`` / ``(G,)`` ground
        truth and ``(G,)`` bool difficult flags (or None).

    Returns:
        tuple: ``(prec, rec)``, lists of ``n_fg_class`` float64 arrays (one
        entry per detection in descending score order) or None: ``prec[l]``
        is None for a class that neither predictions nor ground truth
        mention, ``rec[l]`` also when class ``l`` has no non-difficult
        ground truth.
    """
    pred_labels = list(pred_labels)
    gt_labels = list(gt_labels)
    prec, rec = voc.calc_detection_voc_prec_rec(
        pred_bboxes, pred_labels, pred_scores, gt_bboxes, gt_labels,
        gt_difficults, iou_thresh=iou_thresh, keep_ignored=True)
    seen = numpy.zeros(len(prec), dtype=bool)
    for label in pred_labels + gt_labels:
        seen[numpy.asarray(label, dtype=numpy.int64).reshape(-1)] = True
    for lab in numpy.flatnonzero(~seen):
        prec[lab] = rec[lab] = None
    return prec, rec


def eval_detection_voc(pred_bboxes, pred_labels, pred_scores, gt_bboxes,
                       gt_labels, gt_difficults=None, iou_thresh=0.5,
                       use_07_metric=False):
    """VOC AP per class and their mean.

    Args: as :func:`calc_detection_voc_prec_rec`, plus ``use_07_metric``
        (bool): the VOC2007 11-point AP.

    Returns:
        dict: ``'ap'``, ``(n_fg_class,)`` float64 with NaN for a class
        without AP, and ``'map'``, the mean of the others (NaN if none).
    """
    prec, rec = calc_detection_voc_prec_rec(
        pred_bboxes, pred_labels, pred_scores, gt_bboxes, gt_labels,
        gt_difficults, iou_thresh=iou_thresh)
    ap = calc_detection_voc_ap(prec, rec, use_07_metric=use_07_metric)
    valid = ~numpy.isnan(ap)
    return {'ap': ap,
            'map': float(ap[valid].mean()) if valid.any() else numpy.nan}
