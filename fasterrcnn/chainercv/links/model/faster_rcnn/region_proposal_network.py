"""chainercv's RegionProposalNetwork: proposals ranked by the raw
foreground logit, chainercv's creator and initialisation."""

from chainer import initializers

from fasterrcnn.links import rpn

from .creators import ProposalCreator


class RegionProposalNetwork(rpn.RegionProposalNetwork):
    """The RPN of :mod:`fasterrcnn.links.rpn` with chainercv's semantics.

    Differences from the PyTorch version's: the anchors are ranked by the
    foreground logit (not its softmax probability) for the proposals, the
    proposals' NMS suppresses at IoU >= its threshold, and ``initialW=None``
    is Chainer's default initializer (LeCun normal).

    Args:
        in_channels, mid_channels (int): channels of the input and of the
            3 x 3 convolution.
        ratios (list of floats): anchor height / width ratios.
        anchor_scales (list of numbers): anchor sizes in units of 16 pixels.
        feat_stride (int): pixels per feature cell.
        initialW: initializer of the three convolutions.
        proposal_creator_params (dict): arguments of
            :class:`~fasterrcnn.chainercv.links.model.faster_rcnn.ProposalCreator`.
    """

    def __init__(self, in_channels=512, mid_channels=512,
                 ratios=[0.5, 1, 2], anchor_scales=[8, 16, 32],
                 feat_stride=16, initialW=None, proposal_creator_params={}):
        if initialW is None:
            initialW = initializers.LeCunNormal()
        super(RegionProposalNetwork, self).__init__(
            in_channels, mid_channels, ratios=ratios,
            anchor_scales=anchor_scales, feat_stride=feat_stride,
            initialW=initialW, proposal_score='logit',
            proposal_creator=ProposalCreator(**proposal_creator_params))

    def forward(self, x, img_size, scales=None):
        """``(rpn_locs, rpn_scores, rois, roi_indices, anchor)``.

        Args:
            x (chainer.Variable): ``(N, C, H', W')`` features.
            img_size (tuple of ints): ``(H, W)`` of the input images.
            scales (float, sequence of floats or None): each image's resize
                factor (None: 1).

        Returns: as :meth:`fasterrcnn.links.rpn.RegionProposalNetwork.forward`.
        """
        return super(RegionProposalNetwork, self).forward(x, img_size,
                                                          scales)
