"""The VGG16 backbone (Faster R-CNN, sec. 4): extractor, RoI head and the
model made of them, configured as the PyTorch version."""

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import initializers

from fasterrcnn.functions.pooling import max_pooling_2d
from fasterrcnn.functions.roi_ops import roi_op_function
from fasterrcnn.links.backbones.masking import (apply_mask, partial_sizes,
                                                region_mask)
from fasterrcnn.links.convolution_2d import Convolution2D
from fasterrcnn.links.faster_rcnn import FasterRCNN
from fasterrcnn.links.rpn import RegionProposalNetwork

#: Channels of VGG16's five blocks (conv1_x .. conv5_x).
VGG16_CHANNELS = (64, 128, 256, 512, 512)
#: Convolutions per block.
VGG16_DEPTHS = (2, 2, 3, 3, 3)
#: Input pixels per feature cell: the four 2 x 2 max poolings between the
#: five blocks (conv5_3 is not pooled, as in Faster R-CNN, sec. 4.1).
FEAT_STRIDE = 2 ** 4


def conv_names():
    """``conv1_1`` ... ``conv5_3``, in order."""
    return ['conv{}_{}'.format(b + 1, k + 1)
            for b, depth in enumerate(VGG16_DEPTHS) for k in range(depth)]


class Conv2DActiv(chainer.Chain):
    """A convolution (child ``conv``) followed by ReLU.

    Only a name: chainercv's VGG16 holds each convolution in such a link, so
    its weights are saved as ``conv1_1/conv/W``; :class:`VGG16` with
    ``activ_links=True`` uses it to read and write those files as they are.

    Args: as :class:`chainer.links.Convolution2D`.
    """

    def __init__(self, *args, **kwargs):
        super(Conv2DActiv, self).__init__()
        with self.init_scope():
            self.conv = Convolution2D(*args, **kwargs)

    def forward(self, x):
        return self.conv(x, relu=True)


class VGG16(chainer.Chain):
    """conv1_1 .. conv5_3 with ReLU, max pooling after blocks 1-4, no pool5.

    A padded-batch extractor (:mod:`fasterrcnn.links.extractor`). The output
    has stride 16. Each 2 x 2 pooling floors the size (PyTorch's
    ``MaxPool2d(2, 2)``; chainer's default ``cover_all=True`` would round up
    and shift every later cell), unless ``cover_all`` (chainercv's VGG16).

    Args:
        channels (tuple of 5 ints): width of each block; VGG16's
            ``(64, 128, 256, 512, 512)`` by default, smaller for fast demos.
        freeze_conv12 (bool): keep conv1_1 .. conv2_2 fixed, as the PyTorch
            version does: nothing below them needs a gradient, so none is
            computed, and :meth:`frozen_links` lists them for the optimizer.
        initialW: initializer of the convolution weights (He normal, fan-in,
            when training from scratch; loaded weights replace it).
        cover_all (bool): poolings round odd sizes up (chainer's default,
            which chainercv's VGG16 keeps) instead of down.
        activ_links (bool): hold each convolution in a :class:`Conv2DActiv`
            (weights named ``conv1_1/conv/W``, chainercv's layout) rather
            than directly (``conv1_1/W``).
    """

    #: Input pixels per output cell.
    feat_stride = FEAT_STRIDE

    def __init__(self, channels=VGG16_CHANNELS, freeze_conv12=True,
                 initialW=None, cover_all=False, activ_links=False):
        super(VGG16, self).__init__()
        if len(channels) != 5:
            raise ValueError('channels must list 5 block widths, got {}'
                             .format(channels))
        if initialW is None:
            initialW = initializers.HeNormal()
        self.channels = tuple(int(c) for c in channels)
        self.freeze_conv12 = freeze_conv12
        self.cover_all = cover_all
        self.activ_links = activ_links
        link = Conv2DActiv if activ_links else Convolution2D
        in_channels = 3
        with self.init_scope():
            for b, depth in enumerate(VGG16_DEPTHS):
                for k in range(depth):
                    setattr(self, 'conv{}_{}'.format(b + 1, k + 1),
                            link(in_channels, self.channels[b], 3, 1, 1,
                                 initialW=initialW))
                    in_channels = self.channels[b]

    @property
    def out_channels(self):
        """Channels of the output: the last block's width."""
        return self.channels[-1]

    def conv(self, name):
        """The convolution link ``name`` (``'conv1_1'`` ...), wherever it is
        held."""
        link = getattr(self, name)
        return link.conv if self.activ_links else link

    def frozen_links(self):
        """The convolutions kept fixed (conv1_1 .. conv2_2, or none).

        Chainer creates update rules in ``optimizer.setup``; call
        ``disable_update()`` on these links after it (the training script
        does). Their gradients are never computed either way.
        """
        if not self.freeze_conv12:
            return []
        return [self.conv(name) for name in conv_names()[:4]]

    def _block(self, h, b, sizes=None, mask=None):
        """Block ``b`` on ``h``; ``mask`` is ``h``'s region mask (None: made
        here). Returns the output, its sizes and its mask, which the next
        block's convolutions reuse (they keep the resolution)."""
        if mask is None:
            mask = region_mask(h, sizes)
        for k in range(VGG16_DEPTHS[b]):
            conv = self.conv('conv{}_{}'.format(b + 1, k + 1))
            h = apply_mask(conv(h, relu=True), mask)
        if b < 4:
            h = max_pooling_2d(h, 2, 2, cover_all=self.cover_all)
            sizes = self.pooled_sizes(sizes)
            mask = region_mask(h, sizes)
            h = apply_mask(h, mask)
        return h, sizes, mask

    def pooled_sizes(self, sizes):
        """The valid sizes after one 2 x 2 pooling (floor, or ceil with
        ``cover_all``); None stays None."""
        if sizes is None:
            return None
        return (sizes + 1) // 2 if self.cover_all else sizes // 2

    def output_sizes(self, sizes):
        """``(N, 2)`` int valid ``(H', W')`` of the output for input sizes
        ``(N, 2)`` (four poolings)."""
        for _ in range(4):
            sizes = self.pooled_sizes(sizes)
        return sizes

    def forward(self, x, sizes=None):
        """``(N, 3, H, W)`` normalised images to ``(N, C5, H/16, W/16)``.

        Args:
            x (chainer.Variable or array): ``(N, 3, H, W)`` network input.
            sizes (array or None): ``(N, 2)`` int ``(H_i, W_i)``: image
                ``i`` fills only the top-left ``H_i x W_i`` of ``x`` (a
                padded batch). After every convolution and pooling the
                values outside each image's region are set to 0, which is
                what each convolution's own zero padding would see without
                the batch's padding: inside its region an image's features
                (and their gradients) are those it has alone, to float
                rounding. None: every image fills ``x``.
        """
        sizes = partial_sizes(x, sizes)
        h, mask = x, None
        if self.freeze_conv12:
            with chainer.no_backprop_mode():
                h, sizes, mask = self._block(h, 0, sizes, mask)
                h, sizes, mask = self._block(h, 1, sizes, mask)
            # A leaf that needs no gradient: conv3_1's backward then skips
            # its input gradient, which nothing would read (as the PyTorch
            # version, whose frozen layers' output has no grad).
            h = chainer.Variable(h.array, requires_grad=False)
        else:
            h, sizes, mask = self._block(h, 0, sizes, mask)
            h, sizes, mask = self._block(h, 1, sizes, mask)
        for b in range(2, 5):
            h, sizes, mask = self._block(h, b, sizes, mask)
        return h


class VGG16RoIHead(chainer.Chain):
    """RoI pooling 7 x 7, fc6, fc7, then class scores and per-class boxes.

    Args:
        n_class (int): classes including the background.
        in_channels (int): channels of the feature map (512 for VGG16).
        fc_size (int): width of fc6 and fc7 (4096).
        roi_size (int): bins per side of the RoI pooling (7).
        spatial_scale (float): feature cells per image pixel (1/16).
        dropout (bool): dropout after fc6 and fc7 in training (off, as the
            PyTorch version's default).
        roi_op (str): ``'pool'`` (RoI max pooling, the PyTorch version's) or
            ``'align'`` (RoIAlign; :mod:`fasterrcnn.functions.roi_ops`).
        initialW: initializer of fc6 and fc7 (He normal when None).
        loc_initialW, score_initialW: initializers of the box and score
            outputs (N(0, 0.001) and N(0, 0.01) when None).
    """

    def __init__(self, n_class, in_channels=512, fc_size=4096, roi_size=7,
                 spatial_scale=1. / FEAT_STRIDE, dropout=False, initialW=None,
                 loc_initialW=None, score_initialW=None, roi_op='pool'):
        super(VGG16RoIHead, self).__init__()
        self.roi_op = roi_op
        self._roi = roi_op_function(roi_op)
        if initialW is None:
            initialW = initializers.HeNormal()
        # Faster R-CNN's initialisation of the two outputs (the PyTorch
        # version's normal_init): std 0.001 for boxes, 0.01 for scores.
        if loc_initialW is None:
            loc_initialW = initializers.Normal(0.001)
        if score_initialW is None:
            score_initialW = initializers.Normal(0.01)
        self.n_class = n_class
        self.roi_size = roi_size
        self.spatial_scale = spatial_scale
        self.dropout = dropout
        with self.init_scope():
            self.fc6 = L.Linear(in_channels * roi_size * roi_size, fc_size,
                                initialW=initialW)
            self.fc7 = L.Linear(fc_size, fc_size, initialW=initialW)
            self.cls_loc = L.Linear(fc_size, n_class * 4,
                                    initialW=loc_initialW)
            self.score = L.Linear(fc_size, n_class, initialW=score_initialW)

    def forward(self, x, rois, roi_indices):
        """Head outputs for RoIs.

        Args:
            x (chainer.Variable): ``(N, C, H', W')`` feature map.
            rois (array): ``(R, 4)`` float32 RoIs, ``(y_min, x_min, y_max,
                x_max)`` in input-image pixels.
            roi_indices (array): ``(R,)`` int32 image of each RoI.

        Returns:
            tuple: ``roi_cls_locs`` ``(R, n_class * 4)`` and ``roi_scores``
            ``(R, n_class)`` Variables.
        """
        xp = chainer.backend.get_array_module(x)
        rois = xp.asarray(rois, dtype=x.dtype)
        roi_indices = xp.asarray(roi_indices, dtype=numpy.int32)
        pool = self._roi(x, rois, roi_indices, self.roi_size,
                         self.spatial_scale)
        # An explicit shape: with no RoI, reshape(0, -1) would be ambiguous.
        pool = F.reshape(pool, (pool.shape[0], int(numpy.prod(
            pool.shape[1:]))))
        h = F.relu(self.fc6(pool))
        if self.dropout:
            h = F.dropout(h)
        h = F.relu(self.fc7(h))
        if self.dropout:
            h = F.dropout(h)
        return self.cls_loc(h), self.score(h)


class FasterRCNNVGG16(FasterRCNN):
    """Faster R-CNN VGG16.

    Initialisation as the PyTorch version: RPN convolutions N(0, 0.01), head
    scores N(0, 0.01), head boxes N(0, 0.001), zero biases. The extractor
    and fc6 / fc7 start He-normal; ImageNet weights or a trained model are
    loaded over them (:mod:`fasterrcnn.weights`).

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
        roi_op (str): ``'pool'`` (as there) or ``'align'``.
        min_size, max_size (int): the resize of ``prepare``.
        normalize (str): ``'torchvision'`` or ``'caffe'``, to match the
            weights.
        proposal_creator_params (dict): for the RPN's ProposalCreator.
    """

    #: The backbone's name in the model file and the config
    #: (:data:`fasterrcnn.links.backbones.BACKBONES`).
    arch = 'vgg16'
    feat_stride = FEAT_STRIDE

    def __init__(self, n_fg_class, extractor_channels=VGG16_CHANNELS,
                 fc_size=4096, rpn_channels=None, ratios=(0.5, 1, 2),
                 anchor_scales=(8, 16, 32), freeze_conv12=True,
                 dropout=False, min_size=600, max_size=1000,
                 normalize='torchvision', proposal_creator_params=None,
                 roi_op='pool'):
        #: The constructor's arguments, saved with the weights (model_io).
        init_args = dict(
            n_fg_class=int(n_fg_class),
            extractor_channels=[int(c) for c in extractor_channels],
            fc_size=int(fc_size), rpn_channels=rpn_channels,
            ratios=[float(r) for r in ratios],
            anchor_scales=[float(s) for s in anchor_scales],
            freeze_conv12=bool(freeze_conv12), dropout=bool(dropout),
            min_size=int(min_size), max_size=int(max_size),
            normalize=normalize,
            proposal_creator_params=dict(proposal_creator_params or {}),
            roi_op=roi_op)
        if n_fg_class < 1:
            raise ValueError('n_fg_class must be at least 1, got {}'.format(
                n_fg_class))
        extractor = VGG16(extractor_channels, freeze_conv12=freeze_conv12)
        top = extractor.out_channels
        stride = extractor.feat_stride
        rpn = RegionProposalNetwork(
            top, rpn_channels or min(512, top), ratios=ratios,
            anchor_scales=anchor_scales, feat_stride=stride,
            proposal_creator_params=proposal_creator_params)
        head = VGG16RoIHead(n_fg_class + 1, in_channels=top, fc_size=fc_size,
                            roi_size=7, spatial_scale=1. / stride,
                            dropout=dropout, roi_op=roi_op)
        super(FasterRCNNVGG16, self).__init__(
            extractor, rpn, head, min_size=min_size, max_size=max_size,
            normalize=normalize)
        self.n_fg_class = n_fg_class
        self.init_args = init_args

    @classmethod
    def config_args(cls, model_config):
        """The constructor's arguments (less ``n_fg_class``) that the
        ``model.*`` keys of a config give (:mod:`fasterrcnn.config_keys`)."""
        m = model_config
        return dict(
            extractor_channels=tuple(m.extractor_channels),
            fc_size=m.fc_size, rpn_channels=m.rpn_channels,
            ratios=tuple(m.ratios), anchor_scales=tuple(m.anchor_scales),
            freeze_conv12=m.freeze_conv12, dropout=m.dropout,
            min_size=m.min_size, max_size=m.max_size, normalize=m.normalize,
            roi_op=m.roi_op)
