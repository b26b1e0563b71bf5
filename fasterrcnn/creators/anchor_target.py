"""Training targets of the region proposal network (Faster R-CNN, sec. 3.1.2).
"""

from fasterrcnn.backend import float_dtype, get_array_module
from fasterrcnn.boxes import bbox2loc, bbox_iou
from fasterrcnn.creators.sampling import (as_random_state, choice, count,
                                          finite_or_zero, flatnonzero)

#: Anchor labels (sec. 3.1.2): a positive (object) anchor, a negative
#: (background) one, and one the RPN's losses ignore.
POSITIVE, NEGATIVE, IGNORE = 1, 0, -1


class AnchorTargetCreator(object):
    """Assign ground truth to anchors and sample the RPN's mini-batch.

    An anchor inside the image is positive when its IoU with some ground
    truth box is at least ``pos_iou_thresh``, or when it is (one of) the
    anchors of highest IoU for a ground truth box; negative when its highest
    IoU is below ``neg_iou_thresh``; ignored otherwise. At most
    ``n_sample * pos_ratio`` positives are kept, and negatives fill up to
    ``n_sample``; the rest become ignored. Anchors that cross the image
    border are ignored. Same rules and order of random draws as the PyTorch
    version.

    Args:
        n_sample (int): anchors in the mini-batch (256).
        pos_iou_thresh (float): IoU for a positive (0.7).
        neg_iou_thresh (float): IoU below which an anchor is negative (0.3).
        pos_ratio (float): largest fraction of positives (0.5).
    """

    def __init__(self, n_sample=256, pos_iou_thresh=0.7, neg_iou_thresh=0.3,
                 pos_ratio=0.5):
        self.n_sample = n_sample
        self.pos_iou_thresh = pos_iou_thresh
        self.neg_iou_thresh = neg_iou_thresh
        self.pos_ratio = pos_ratio

    def __call__(self, bbox, anchor, img_size, random_state=None):
        """Targets for every anchor.

        Args:
            bbox (array): ``(R, 4)`` float32 ground truth, ``(y_min, x_min,
                y_max, x_max)`` in input-image pixels; ``R`` may be 0.
            anchor (array): ``(S, 4)`` float32 anchors, same order.
            img_size (tuple of ints): ``(H, W)`` of the input image.
            random_state (numpy.random.RandomState): for the subsampling.

        Returns:
            tuple: ``loc`` ``(S, 4)`` float32 offsets of each anchor's
            ground truth (zeros where there is none), ``label`` ``(S,)``
            int32: 1 positive, 0 negative, -1 ignore. Computed on the device
            of ``anchor``; only the random permutations come from the host.
        """
        xp = get_array_module(anchor)
        random_state = as_random_state(random_state)
        bbox = xp.asarray(bbox, dtype=float_dtype())
        img_h, img_w = img_size
        n_anchor = len(anchor)
        inside = flatnonzero(
            (anchor[:, 0] >= 0) & (anchor[:, 1] >= 0) &
            (anchor[:, 2] <= img_h) & (anchor[:, 3] <= img_w))
        anchor_in = anchor[inside]
        label_in = xp.full((len(inside),), IGNORE, dtype=xp.int32)
        loc = xp.zeros((n_anchor, 4), dtype=float_dtype())
        if len(bbox) and len(inside):
            iou = bbox_iou(anchor_in, bbox)
            argmax_iou = iou.argmax(axis=1)
            max_iou = iou[xp.arange(len(inside)), argmax_iou]
            # Every anchor that ties for the best IoU of some ground truth is
            # positive. A ground truth that overlaps no anchor (a degenerate
            # box) has best IoU 0: the PyTorch version would then make every
            # non-overlapping anchor positive; here it makes none.
            gt_max_iou = iou.max(axis=0)
            best = (iou == gt_max_iou[None]) & (gt_max_iou[None] > 0)
            label_in[max_iou < self.neg_iou_thresh] = NEGATIVE
            label_in[best.any(axis=1)] = POSITIVE
            label_in[max_iou >= self.pos_iou_thresh] = POSITIVE
            loc[inside] = finite_or_zero(
                bbox2loc(anchor_in, bbox[argmax_iou]))
        else:
            # No object: every anchor inside the image is background.
            label_in[:] = NEGATIVE

        n_pos = int(self.pos_ratio * self.n_sample)
        pos = flatnonzero(label_in == POSITIVE)
        if len(pos) > n_pos:
            label_in[choice(random_state, pos, len(pos) - n_pos)] = IGNORE
        n_neg = self.n_sample - count(label_in == POSITIVE)
        neg = flatnonzero(label_in == NEGATIVE)
        if len(neg) > n_neg:
            label_in[choice(random_state, neg, len(neg) - n_neg)] = IGNORE

        label = xp.full((n_anchor,), IGNORE, dtype=xp.int32)
        label[inside] = label_in
        return loc, label
