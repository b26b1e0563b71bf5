"""Faster R-CNN with a VGG16 extractor, configured as the PyTorch version."""

from fasterrcnn.links.faster_rcnn import FasterRCNN
from fasterrcnn.links.rpn import RegionProposalNetwork
from fasterrcnn.links.vgg16 import (FEAT_STRIDE, VGG16, VGG16_CHANNELS,
                                    VGG16RoIHead)


class FasterRCNNVGG16(FasterRCNN):
    """Faster R-CNN VGG16.

    Initialisation as the PyTorch version: RPN convolutions N(0, 0.01), head
    scores N(0, 0.01), head boxes N(0, 0.001), zero biases. The extractor
    and fc6 / fc7 start He-normal; ImageNet weights or a trained model are
    loaded over them (:mod:`fasterrcnn.interop`).

    Args:
        n_fg_class (int): object classes, without the background.
        extractor_channels (tuple of 5 ints): VGG16 block widths; smaller
            widths keep the structure and stride 16 (for CPU demos).
        fc_size (int): width of fc6 / fc7 (4096).
        rpn_channels (int): channels of the RPN's 3 x 3 conv (512, or the
            last block's width when smaller).
        ratios, anchor_scales: anchors (3 ratios x 3 scales).
        freeze_conv12 (bool): keep conv1_1 .. conv2_2 fixed (default, as
            there).
        dropout (bool): dropout after fc6 / fc7 (off, as there).
        min_size, max_size (int): the resize of ``prepare``.
        normalize (str): ``'torchvision'`` or ``'caffe'``, to match the
            weights.
        proposal_creator_params (dict): for the RPN's ProposalCreator.
    """

    feat_stride = FEAT_STRIDE

    def __init__(self, n_fg_class, extractor_channels=VGG16_CHANNELS,
                 fc_size=4096, rpn_channels=None, ratios=(0.5, 1, 2),
                 anchor_scales=(8, 16, 32), freeze_conv12=True,
                 dropout=False, min_size=600, max_size=1000,
                 normalize='torchvision', proposal_creator_params=None):
        #: The constructor's arguments, saved with the weights (model_io).
        self_args = dict(
            n_fg_class=int(n_fg_class),
            extractor_channels=[int(c) for c in extractor_channels],
            fc_size=int(fc_size), rpn_channels=rpn_channels,
            ratios=[float(r) for r in ratios],
            anchor_scales=[float(s) for s in anchor_scales],
            freeze_conv12=bool(freeze_conv12), dropout=bool(dropout),
            min_size=int(min_size), max_size=int(max_size),
            normalize=normalize,
            proposal_creator_params=dict(proposal_creator_params or {}))
        if n_fg_class < 1:
            raise ValueError('n_fg_class must be at least 1, got {}'.format(
                n_fg_class))
        extractor = VGG16(extractor_channels, freeze_conv12=freeze_conv12)
        top = extractor.channels[-1]
        rpn = RegionProposalNetwork(
            top, rpn_channels or min(512, top), ratios=ratios,
            anchor_scales=anchor_scales, feat_stride=self.feat_stride,
            proposal_creator_params=proposal_creator_params)
        head = VGG16RoIHead(n_fg_class + 1, in_channels=top, fc_size=fc_size,
                            roi_size=7, spatial_scale=1. / self.feat_stride,
                            dropout=dropout)
        super(FasterRCNNVGG16, self).__init__(
            extractor, rpn, head, min_size=min_size, max_size=max_size,
            normalize=normalize)
        self.n_fg_class = n_fg_class
        self.init_args = self_args
