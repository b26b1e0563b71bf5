"""Region proposals from the RPN's output (Faster R-CNN, sec. 3.1)."""

import chainer

from fasterrcnn.backend import get_array_module
from fasterrcnn.boxes import clip_bbox, loc2bbox
from fasterrcnn.nms import descending_order, non_maximum_suppression


class ProposalCreator(object):
    """Decode anchors into boxes, filter them and suppress overlaps.

    The boxes are clipped to the image; those smaller than ``min_size *
    scale`` on either side are dropped (``scale`` is the factor by which the
    image was resized, so the threshold is ``min_size`` pixels of the
    original image); the ``n_pre_nms`` highest scoring boxes go through NMS
    at ``nms_thresh``, and the first ``n_post_nms`` survivors are the
    proposals. Training and test mode (``chainer.config.train``) use
    different counts, as the PyTorch version does. Boxes or scores that are
    not finite (from inf / NaN network output) are dropped.

    Args:
        nms_thresh (float): NMS IoU threshold (0.7).
        n_train_pre_nms, n_train_post_nms (int): 12000 / 2000.
        n_test_pre_nms, n_test_post_nms (int): 6000 / 300.
        min_size (float): smallest side in original-image pixels (16).
        inclusive_nms (bool): NMS suppresses at IoU >= ``nms_thresh``
            (chainercv) rather than > (the PyTorch version); see
            :func:`fasterrcnn.nms.non_maximum_suppression`.
    """

    def __init__(self, nms_thresh=0.7, n_train_pre_nms=12000,
                 n_train_post_nms=2000, n_test_pre_nms=6000,
                 n_test_post_nms=300, min_size=16, inclusive_nms=False):
        self.nms_thresh = nms_thresh
        self.n_train_pre_nms = n_train_pre_nms
        self.n_train_post_nms = n_train_post_nms
        self.n_test_pre_nms = n_test_pre_nms
        self.n_test_post_nms = n_test_post_nms
        self.min_size = min_size
        self.inclusive_nms = inclusive_nms

    def __call__(self, loc, score, anchor, img_size, scale=1.):
        """Proposals of one image.

        Args:
            loc (array): ``(S, 4)`` float32 offsets predicted for each anchor.
            score (array): ``(S,)`` float32 foreground probability.
            anchor (array): ``(S, 4)`` float32 anchors, ``(y_min, x_min,
                y_max, x_max)`` in input-image pixels.
            img_size (tuple of ints): ``(H, W)`` of the input image.
            scale (float): the input image's size over the original's.

        Returns:
            array: ``(K, 4)`` float32 proposals, highest score first, on the
            device of ``loc``.
        """
        xp = get_array_module(loc)
        if chainer.config.train:
            n_pre_nms, n_post_nms = self.n_train_pre_nms, \
                self.n_train_post_nms
        else:
            n_pre_nms, n_post_nms = self.n_test_pre_nms, self.n_test_post_nms
        roi = clip_bbox(loc2bbox(anchor, loc), img_size)
        min_size = self.min_size * scale
        hs = roi[:, 2] - roi[:, 0]
        ws = roi[:, 3] - roi[:, 1]
        keep = (hs >= min_size) & (ws >= min_size) & xp.isfinite(score) & \
            xp.isfinite(roi).all(axis=1)
        roi = roi[keep]
        score = score[keep]
        # Descending score; among ties the earlier anchor first.
        order = descending_order(score)
        if n_pre_nms > 0:
            order = order[:n_pre_nms]
        roi = roi[order]
        keep = non_maximum_suppression(
            roi, self.nms_thresh,
            limit=n_post_nms if n_post_nms > 0 else None,
            inclusive=self.inclusive_nms)
        return roi[keep]
