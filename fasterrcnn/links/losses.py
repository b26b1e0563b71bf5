"""The four Faster R-CNN losses, as the PyTorch version defines them."""

import chainer
import chainer.functions as F

from fasterrcnn.creators.anchor_target import IGNORE


def smooth_l1(x, t, in_weight, sigma):
    """Sum of the smooth L1 of ``in_weight * (x - t)`` (Fast R-CNN, eq. 3).

    Quadratic ``sigma^2 / 2 * d^2`` below ``|d| < 1 / sigma^2``, linear
    ``|d| - 0.5 / sigma^2`` above (sigma 3 for the RPN, 1 for the head).

    Args:
        x (chainer.Variable): ``(K, 4)`` predicted offsets.
        t (array): ``(K, 4)`` target offsets.
        in_weight (array): ``(K, 4)`` 1 where the row counts, else 0.
        sigma (float): the transition sharpness.
    """
    sigma2 = sigma ** 2
    diff = in_weight * (x - t)
    abs_diff = F.absolute(diff)
    flag = (abs_diff.array < (1. / sigma2)).astype(diff.dtype)
    y = flag * (sigma2 / 2.) * F.square(diff) + \
        (1 - flag) * (abs_diff - 0.5 / sigma2)
    return F.sum(y)


def loc_loss(pred_loc, gt_loc, gt_label, sigma):
    """Smooth L1 over the positive rows, divided by the non-ignored rows.

    Args:
        pred_loc (chainer.Variable): ``(K, 4)`` predicted offsets.
        gt_loc (array): ``(K, 4)`` float32 targets.
        gt_label (array): ``(K,)`` int32 labels: > 0 (a positive anchor or
            a foreground class) counts in the sum, every row but
            :data:`~fasterrcnn.creators.anchor_target.IGNORE` in the divisor.
        sigma (float): see :func:`smooth_l1`.
    """
    xp = chainer.backend.get_array_module(gt_loc)
    in_weight = xp.zeros_like(gt_loc)
    in_weight[gt_label > 0] = 1
    loss = smooth_l1(pred_loc, gt_loc, in_weight, sigma)
    # The PyTorch version divides by the count as is; a mini-batch with no
    # non-ignored row (no anchor inside a tiny image) would give 0 / 0. The
    # count stays on the device: reading it would wait for the GPU.
    count = xp.maximum((gt_label != IGNORE).sum(), 1).astype(loss.dtype)
    return loss / count


def faster_rcnn_losses(rpn_loc, rpn_score, gt_rpn_loc, gt_rpn_label,
                       roi_cls_loc, roi_score, gt_roi_loc, gt_roi_label,
                       rpn_sigma=3., roi_sigma=1.):
    """RPN and head losses of one image.

    Args:
        rpn_loc (chainer.Variable): ``(S, 4)`` RPN offsets per anchor.
        rpn_score (chainer.Variable): ``(S, 2)`` RPN logits (background,
            foreground).
        gt_rpn_loc (array): ``(S, 4)`` float32 anchor targets.
        gt_rpn_label (array): ``(S,)`` int32, 1 / 0 / -1 (ignore).
        roi_cls_loc (chainer.Variable): ``(R, n_class * 4)`` head offsets.
        roi_score (chainer.Variable): ``(R, n_class)`` head logits.
        gt_roi_loc (array): ``(R, 4)`` float32 normalised targets.
        gt_roi_label (array): ``(R,)`` int32, 0 background, else class + 1.

    Returns:
        dict: ``rpn_loc_loss``, ``rpn_cls_loss``, ``roi_loc_loss``,
        ``roi_cls_loss`` and their sum ``loss`` (scalar Variables).
    """
    xp = chainer.backend.get_array_module(gt_rpn_loc)
    rpn_loc_loss = loc_loss(rpn_loc, gt_rpn_loc, gt_rpn_label, rpn_sigma)
    rpn_cls_loss = F.softmax_cross_entropy(rpn_score, gt_rpn_label,
                                           ignore_label=IGNORE)
    n_sample, n_loc = roi_cls_loc.shape
    n_class = n_loc // 4
    # The offsets predicted for each RoI's own ground-truth class.
    rows = xp.arange(n_sample) * n_class + gt_roi_label.astype(xp.int64)
    roi_loc = F.get_item(F.reshape(roi_cls_loc, (n_sample * n_class, 4)),
                         rows)
    roi_loc_loss = loc_loss(roi_loc, gt_roi_loc, gt_roi_label, roi_sigma)
    roi_cls_loss = F.softmax_cross_entropy(roi_score, gt_roi_label)
    return {
        'rpn_loc_loss': rpn_loc_loss,
        'rpn_cls_loss': rpn_cls_loss,
        'roi_loc_loss': roi_loc_loss,
        'roi_cls_loss': roi_cls_loss,
        'loss': rpn_loc_loss + rpn_cls_loss + roi_loc_loss + roi_cls_loss,
    }
