"""Training targets of the RoI head (Fast R-CNN, sec. 2.3)."""

import numpy

from fasterrcnn.backend import float_dtype, get_array_module
from fasterrcnn.boxes import (LOC_NORMALIZE_MEAN, LOC_NORMALIZE_STD, bbox2loc,
                              bbox_iou)
from fasterrcnn.creators.sampling import (as_random_state, choice,
                                          finite_or_zero, flatnonzero)


class ProposalTargetCreator(object):
    """Sample RoIs for the head and give each its class and loc target.

    The ground truth boxes are appended to the proposals. A RoI whose best
    IoU with the ground truth is at least ``pos_iou_thresh`` is foreground
    (its class is that box's label + 1); one whose best IoU is in
    ``[neg_iou_thresh_lo, neg_iou_thresh_hi)`` is background (class 0). Up
    to ``round(n_sample * pos_ratio)`` foreground RoIs are drawn, then
    background RoIs fill up to ``n_sample``; the foreground come first in the
    result. Same rules and order of random draws as the PyTorch version.

    Args:
        n_sample (int or None): RoIs per image (128); None takes as many as
            there are RoIs (with the ground truth), as chainercv allows.
        pos_ratio (float): largest fraction of foreground (0.25).
        pos_iou_thresh (float): IoU for foreground (0.5).
        neg_iou_thresh_hi (float): background below this IoU (0.5).
        neg_iou_thresh_lo (float): background from this IoU on (0.0).
    """

    def __init__(self, n_sample=128, pos_ratio=0.25, pos_iou_thresh=0.5,
                 neg_iou_thresh_hi=0.5, neg_iou_thresh_lo=0.0):
        self.n_sample = n_sample
        self.pos_ratio = pos_ratio
        self.pos_iou_thresh = pos_iou_thresh
        self.neg_iou_thresh_hi = neg_iou_thresh_hi
        self.neg_iou_thresh_lo = neg_iou_thresh_lo

    def __call__(self, roi, bbox, label, random_state=None,
                 loc_normalize_mean=LOC_NORMALIZE_MEAN,
                 loc_normalize_std=LOC_NORMALIZE_STD):
        """Sample RoIs and assign targets.

        Args:
            roi (array): ``(R, 4)`` float32 proposals, ``(y_min, x_min,
                y_max, x_max)`` in input-image pixels.
            bbox (array): ``(R', 4)`` float32 ground truth, same order;
                ``R'`` may be 0 (then every RoI is background).
            label (array): ``(R',)`` int32 ground truth labels in
                ``[0, n_fg_class)``.
            random_state (numpy.random.RandomState): for the sampling.
            loc_normalize_mean, loc_normalize_std (tuples of 4 floats): the
                loc targets are ``(loc - mean) / std``.

        Returns:
            tuple: ``sample_roi`` ``(S, 4)`` float32, ``gt_roi_loc`` ``(S,
            4)`` float32 (zeros for background when there is no ground
            truth), ``gt_roi_label`` ``(S,)`` int32 (0 background, else
            label + 1). Computed on the device of ``roi``; only the random
            permutations come from the host.
        """
        xp = get_array_module(roi)
        random_state = as_random_state(random_state)
        bbox = xp.asarray(bbox, dtype=float_dtype())
        label = xp.asarray(label)
        roi = xp.concatenate((roi, bbox), axis=0)
        n_sample = len(roi) if self.n_sample is None else self.n_sample
        pos_per_image = numpy.round(n_sample * self.pos_ratio)
        if len(bbox):
            iou = bbox_iou(roi, bbox)
            gt_assignment = iou.argmax(axis=1)
            max_iou = iou.max(axis=1)
            gt_roi_label = label[gt_assignment].astype(xp.int32) + 1
        else:
            gt_assignment = xp.zeros(len(roi), dtype=xp.int64)
            max_iou = xp.zeros(len(roi), dtype=float_dtype())
            gt_roi_label = xp.zeros(len(roi), dtype=xp.int32)

        pos = flatnonzero(max_iou >= self.pos_iou_thresh)
        n_pos = int(min(pos_per_image, pos.size))
        if pos.size > 0:
            pos = choice(random_state, pos, n_pos)
        neg = flatnonzero((max_iou < self.neg_iou_thresh_hi) &
                          (max_iou >= self.neg_iou_thresh_lo))
        n_neg = int(min(n_sample - n_pos, neg.size))
        if neg.size > 0:
            neg = choice(random_state, neg, n_neg)

        keep = xp.concatenate((pos, neg)).astype(xp.int64)
        gt_roi_label = gt_roi_label[keep]
        gt_roi_label[n_pos:] = 0
        sample_roi = roi[keep]
        if len(bbox):
            gt_roi_loc = finite_or_zero(
                bbox2loc(sample_roi, bbox[gt_assignment[keep]]))
            gt_roi_loc = ((gt_roi_loc - xp.asarray(loc_normalize_mean,
                                                   xp.float32)) /
                          xp.asarray(loc_normalize_std, xp.float32))
        else:
            gt_roi_loc = xp.zeros((len(keep), 4), dtype=float_dtype())
        return sample_roi, gt_roi_loc, gt_roi_label
