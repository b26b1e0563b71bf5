"""chainercv's FasterRCNNVGG16 and VGG16RoIHead: its link names (its
``.npz`` files load as they are), initialisation and pretrained weights."""

import numpy
from chainer import initializers

from fasterrcnn.chainercv.pretrained import FASTER_RCNN_VGG16_MODELS, resolve
from fasterrcnn.links.backbones import vgg16
from fasterrcnn.safe_npz import load_npz
from fasterrcnn.weights.imagenet import load_vgg16_imagenet

from .faster_rcnn import FasterRCNN
from .region_proposal_network import RegionProposalNetwork

#: The RGB mean chainercv's Faster R-CNN VGG16 subtracts (Caffe's VGG16).
MEAN = numpy.array([122.7717, 115.9465, 102.9801],
                   dtype=numpy.float32)[:, None, None]


class VGG16RoIHead(vgg16.VGG16RoIHead):
    """The RoI head with chainercv's signature.

    ``None`` initializers are Chainer's default (LeCun normal), as in
    chainercv; RoI pooling is this package's, which rounds RoI corners half
    away from zero on every device (Chainer's own rounds half to even on
    the CPU, away from zero on the GPU).

    Args:
        n_class (int): classes including the background.
        roi_size (int): bins per side of the RoI pooling.
        spatial_scale (float): feature cells per input pixel.
        vgg_initialW, loc_initialW, score_initialW: initializers of fc6 /
            fc7, of the box output and of the score output.
    """

    def __init__(self, n_class, roi_size, spatial_scale, vgg_initialW=None,
                 loc_initialW=None, score_initialW=None):
        super(VGG16RoIHead, self).__init__(
            n_class, in_channels=512, fc_size=4096, roi_size=roi_size,
            spatial_scale=spatial_scale, initialW=_default(vgg_initialW),
            loc_initialW=_default(loc_initialW),
            score_initialW=_default(score_initialW))


class FasterRCNNVGG16(FasterRCNN):
    """chainercv's Faster R-CNN VGG16.

    The extractor is VGG16 up to conv5_3, every layer trained, its poolings
    rounding odd sizes up (chainer's ``cover_all``), weights held as
    ``extractor/conv1_1/conv/W``; the proposals are ranked by logit and
    every NMS suppresses at IoU >= its threshold.

    ``pretrained_model`` is a path to an ``.npz`` written by chainercv (or
    by ``chainer.serializers.save_npz`` of this link), ``'imagenet'``
    (chainercv's VGG16 weights for the extractor and fc6 / fc7), or the name
    of one of chainercv's trained models (``'voc07'``, ``'voc0712'``); named
    files are read from chainercv's download folder, fetched there when
    missing (:mod:`fasterrcnn.chainercv.pretrained`). Files are read as
    data only.

    Args:
        n_fg_class (int or None): object classes; None takes the named
            pretrained model's.
        pretrained_model (str or None): see above.
        min_size, max_size (int): the resize of ``prepare``.
        ratios (list of floats): anchor height / width ratios.
        anchor_scales (list of numbers): anchor sizes in units of 16 pixels.
        vgg_initialW, rpn_initialW, loc_initialW, score_initialW:
            initializers (chainercv's defaults: N(0, 0.01) for VGG16's
            convolutions and the RPN, LeCun normal for fc6 / fc7, N(0,
            0.001) for the boxes, N(0, 0.01) for the scores; zeros for
            VGG16's layers when weights are loaded over them).
        proposal_creator_params (dict): arguments of the RPN's
            ProposalCreator.
    """

    _models = FASTER_RCNN_VGG16_MODELS
    feat_stride = 16

    def __init__(self, n_fg_class=None, pretrained_model=None,
                 min_size=600, max_size=1000, ratios=[0.5, 1, 2],
                 anchor_scales=[8, 16, 32], vgg_initialW=None,
                 rpn_initialW=None, loc_initialW=None, score_initialW=None,
                 proposal_creator_params={}):
        n_fg_class, kind, path = resolve(n_fg_class, pretrained_model,
                                         self._models)
        if loc_initialW is None:
            loc_initialW = initializers.Normal(0.001)
        if score_initialW is None:
            score_initialW = initializers.Normal(0.01)
        if rpn_initialW is None:
            rpn_initialW = initializers.Normal(0.01)
        if vgg_initialW is None and pretrained_model:
            vgg_initialW = initializers.Zero()
        extractor = vgg16.VGG16(
            freeze_conv12=False, cover_all=True, activ_links=True,
            initialW=initializers.Normal(0.01) if vgg_initialW is None
            else vgg_initialW)
        rpn = RegionProposalNetwork(
            512, 512, ratios=ratios, anchor_scales=anchor_scales,
            feat_stride=self.feat_stride, initialW=rpn_initialW,
            proposal_creator_params=proposal_creator_params)
        head = VGG16RoIHead(
            n_fg_class + 1, roi_size=7, spatial_scale=1. / self.feat_stride,
            vgg_initialW=vgg_initialW, loc_initialW=loc_initialW,
            score_initialW=score_initialW)
        super(FasterRCNNVGG16, self).__init__(
            extractor, rpn, head, mean=MEAN.copy(), min_size=min_size,
            max_size=max_size)
        self.n_fg_class = n_fg_class
        if kind == 'imagenet':
            load_vgg16_imagenet(self, path, layout='chainercv')
        elif kind == 'model':
            load_npz(path, self, what='FasterRCNNVGG16 weights file')


def _default(initializer):
    """Chainer's default initializer where chainercv leaves it None."""
    return initializers.LeCunNormal() if initializer is None else \
        initializer
