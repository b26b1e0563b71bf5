"""Faster R-CNN with its training targets and losses, for the Trainer."""

import chainer
import numpy

from fasterrcnn.backend import to_cpu
from fasterrcnn.creators.anchor_target import AnchorTargetCreator
from fasterrcnn.creators.proposal_target import ProposalTargetCreator
from fasterrcnn.creators.sampling import as_random_state
from fasterrcnn.links.faster_rcnn import check_input_size
from fasterrcnn.links.losses import faster_rcnn_losses


class FasterRCNNTrainChain(chainer.Chain):
    """Runs Faster R-CNN on a training example and returns the total loss.

    The losses are reported through ``chainer.reporter`` as
    ``rpn_loc_loss``, ``rpn_cls_loss``, ``roi_loc_loss``, ``roi_cls_loss``
    and ``loss`` (``main/...`` in a Trainer). The proposal targets are drawn
    before the anchor targets, both from ``random_state``, in the order of
    the PyTorch version's trainer.

    Args:
        faster_rcnn (FasterRCNN): the model.
        rpn_sigma, roi_sigma (float): smooth L1 sigmas (3 and 1).
        anchor_target_creator, proposal_target_creator: the creators
            (defaults as the PyTorch version).
        random_state (numpy.random.RandomState or int or None): the state
            the target sampling draws from; keep it in the snapshot for an
            exact resume.
    """

    def __init__(self, faster_rcnn, rpn_sigma=3., roi_sigma=1.,
                 anchor_target_creator=None, proposal_target_creator=None,
                 random_state=None):
        super(FasterRCNNTrainChain, self).__init__()
        with self.init_scope():
            self.faster_rcnn = faster_rcnn
        self.rpn_sigma = rpn_sigma
        self.roi_sigma = roi_sigma
        self.anchor_target_creator = anchor_target_creator or \
            AnchorTargetCreator()
        self.proposal_target_creator = proposal_target_creator or \
            ProposalTargetCreator()
        self.random_state = as_random_state(random_state)

    def forward(self, imgs, bboxes, labels, scales):
        """Total loss of a batch of one image.

        Args:
            imgs (array): ``(1, 3, H, W)`` float32 prepared image.
            bboxes (array): ``(1, R, 4)`` float32 ground truth in the
                prepared image's pixels (``R`` may be 0).
            labels (array): ``(1, R)`` int32 labels in ``[0, n_fg_class)``.
            scales (array or float): the resize factor of the image.

        Returns:
            chainer.Variable: the total loss.
        """
        imgs, bboxes, labels, scales = (
            x.array if isinstance(x, chainer.Variable) else x
            for x in (imgs, bboxes, labels, scales))
        if len(imgs) != 1:
            raise ValueError('FasterRCNNTrainChain takes one image per batch, '
                             'got {}'.format(len(imgs)))
        scale = float(numpy.asarray(to_cpu(scales)).reshape(-1)[0])
        bbox = bboxes[0]
        label = labels[0]
        img_size = imgs.shape[2:]
        check_input_size(img_size)
        model = self.faster_rcnn
        features = model.extractor(imgs)
        rpn_locs, rpn_scores, rois, roi_indices, anchor = model.rpn(
            features, img_size, scale)
        sample_roi, gt_roi_loc, gt_roi_label = self.proposal_targets(
            rois, bbox, label)
        sample_roi_index = self.xp.zeros((len(sample_roi),), numpy.int32)
        roi_cls_loc, roi_score = model.head(features, sample_roi,
                                            sample_roi_index)
        gt_rpn_loc, gt_rpn_label = self.anchor_targets(bbox, anchor,
                                                       img_size)
        losses = faster_rcnn_losses(
            rpn_locs[0], rpn_scores[0], gt_rpn_loc, gt_rpn_label,
            roi_cls_loc, roi_score, gt_roi_loc, gt_roi_label,
            self.rpn_sigma, self.roi_sigma)
        chainer.reporter.report(losses, self)
        return losses['loss']

    def proposal_targets(self, rois, bbox, label):
        """The head's sampled RoIs and targets: calls
        ``proposal_target_creator`` with this chain's random state and the
        model's loc normalisation (see
        :class:`fasterrcnn.creators.ProposalTargetCreator`)."""
        model = self.faster_rcnn
        return self.proposal_target_creator(
            rois, bbox, label, self.random_state, model.loc_normalize_mean,
            model.loc_normalize_std)

    def anchor_targets(self, bbox, anchor, img_size):
        """The RPN's targets: calls ``anchor_target_creator`` with this
        chain's random state (see
        :class:`fasterrcnn.creators.AnchorTargetCreator`)."""
        return self.anchor_target_creator(bbox, anchor, img_size,
                                          self.random_state)
