"""chainercv's calling conventions for the three creators.

The rules are :mod:`fasterrcnn.creators`'; what changes is how they are
called, as chainercv calls them: the target creators take no random state
and draw from numpy's global one (so ``numpy.random.seed`` fixes the
samples, and the draws equal chainercv's ``numpy.random.choice``), and the
proposal creator suppresses at IoU >= its threshold and takes
``force_cpu_nms``.
"""

import numpy

from fasterrcnn.backend import get_array_module, to_cpu
from fasterrcnn.boxes import LOC_NORMALIZE_MEAN, LOC_NORMALIZE_STD
from fasterrcnn.creators import anchor_target, proposal, proposal_target


class AnchorTargetCreator(anchor_target.AnchorTargetCreator):
    """The RPN's targets, drawn from numpy's global random state.

    Args: as :class:`fasterrcnn.creators.AnchorTargetCreator`.
    """

    def __call__(self, bbox, anchor, img_size):
        """``(loc, label)`` for every anchor.

        Args:
            bbox (array): ``(R, 4)`` float32 ground truth, ``(y_min, x_min,
                y_max, x_max)`` in input-image pixels.
            anchor (array): ``(S, 4)`` float32 anchors, same order.
            img_size (tuple of ints): ``(H, W)`` of the input image.

        Returns:
            tuple: ``(S, 4)`` float32 offsets and ``(S,)`` int32 labels (1
            positive, 0 negative, -1 ignored).
        """
        return super(AnchorTargetCreator, self).__call__(
            bbox, anchor, img_size, numpy.random)


class ProposalTargetCreator(proposal_target.ProposalTargetCreator):
    """The head's sampled RoIs and targets, drawn from numpy's global random
    state.

    Args: as :class:`fasterrcnn.creators.ProposalTargetCreator`
        (``n_sample=None`` keeps every RoI).
    """

    def __call__(self, roi, bbox, label,
                 loc_normalize_mean=LOC_NORMALIZE_MEAN,
                 loc_normalize_std=LOC_NORMALIZE_STD):
        """``(sample_roi, gt_roi_loc, gt_roi_label)``.

        Args:
            roi (array): ``(R, 4)`` float32 proposals, ``(y_min, x_min,
                y_max, x_max)`` in input-image pixels.
            bbox (array): ``(R', 4)`` float32 ground truth, same order.
            label (array): ``(R',)`` int32 labels in ``[0, n_fg_class)``.
            loc_normalize_mean, loc_normalize_std (tuples of 4 floats):
                the loc targets are ``(loc - mean) / std``.
        """
        return super(ProposalTargetCreator, self).__call__(
            roi, bbox, label, numpy.random, loc_normalize_mean,
            loc_normalize_std)


class ProposalCreator(proposal.ProposalCreator):
    """Proposals as chainercv makes them: NMS suppresses at IoU >=
    ``nms_thresh``.

    Args: as :class:`fasterrcnn.creators.ProposalCreator`, in chainercv's
        order, plus
        force_cpu_nms (bool): with GPU input, compute on the host (the
            proposals are the same; the NumPy and CuPy paths are twins).
    """

    def __init__(self, nms_thresh=0.7, n_train_pre_nms=12000,
                 n_train_post_nms=2000, n_test_pre_nms=6000,
                 n_test_post_nms=300, force_cpu_nms=False, min_size=16):
        super(ProposalCreator, self).__init__(
            nms_thresh=nms_thresh, n_train_pre_nms=n_train_pre_nms,
            n_train_post_nms=n_train_post_nms,
            n_test_pre_nms=n_test_pre_nms, n_test_post_nms=n_test_post_nms,
            min_size=min_size, inclusive_nms=True)
        self.force_cpu_nms = force_cpu_nms

    def __call__(self, loc, score, anchor, img_size, scale=1.):
        """``(K, 4)`` float32 proposals, highest score first.

        Args: as :meth:`fasterrcnn.creators.ProposalCreator.__call__`
            (``score`` is whatever the RPN ranks by: chainercv's RPN passes
            the raw foreground logit).
        """
        xp = get_array_module(loc)
        if not self.force_cpu_nms or xp is numpy:
            return super(ProposalCreator, self).__call__(
                loc, score, anchor, img_size, scale)
        roi = super(ProposalCreator, self).__call__(
            to_cpu(loc), to_cpu(score), to_cpu(anchor), img_size, scale)
        return xp.asarray(roi)
