"""chainercv's FasterRCNNTrainChain: its creators, called as chainercv calls
them, drawing from numpy's global random state."""

import numpy

from fasterrcnn.links import train_chain

from .creators import AnchorTargetCreator, ProposalTargetCreator


class FasterRCNNTrainChain(train_chain.FasterRCNNTrainChain):
    """The total loss of one image, with chainercv's signature.

    The losses (reported as ``rpn_loc_loss``, ``rpn_cls_loss``,
    ``roi_loc_loss``, ``roi_cls_loss`` and ``loss``) are
    :class:`fasterrcnn.links.FasterRCNNTrainChain`'s; the creators are
    called with chainercv's arguments, so chainercv-style creators (which
    take no random state and draw from numpy's global one) plug in.

    Args:
        faster_rcnn (FasterRCNN): the model.
        rpn_sigma, roi_sigma (float): smooth L1 sigmas (3 and 1).
        anchor_target_creator, proposal_target_creator: chainercv-style
            creators.
    """

    def __init__(self, faster_rcnn, rpn_sigma=3., roi_sigma=1.,
                 anchor_target_creator=AnchorTargetCreator(),
                 proposal_target_creator=ProposalTargetCreator()):
        super(FasterRCNNTrainChain, self).__init__(
            faster_rcnn, rpn_sigma=rpn_sigma, roi_sigma=roi_sigma,
            anchor_target_creator=anchor_target_creator,
            proposal_target_creator=proposal_target_creator,
            random_state=numpy.random)
        self.loc_normalize_mean = faster_rcnn.loc_normalize_mean
        self.loc_normalize_std = faster_rcnn.loc_normalize_std

    def proposal_targets(self, rois, bbox, label, random_state=None):
        return self.proposal_target_creator(
            rois, bbox, label, self.loc_normalize_mean,
            self.loc_normalize_std)

    def anchor_targets(self, bbox, anchor, img_size, random_state=None):
        return self.anchor_target_creator(bbox, anchor, img_size)
