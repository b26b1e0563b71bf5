"""The ResNet-50 / ResNet-101 backbones in the C4 layout (He et al., Deep
Residual Learning, appendix A): the stem and stages 1-3 (torchvision's
``conv1`` .. ``layer3``) give the stride-16 feature map shared by the RPN
and the head; stage 4 (``layer4``, stride 2 on its first block) and global
average pooling run on each RoI's 14 x 14 pooled features, as in the
paper and in detectron2's C4 models.

Layers carry torchvision's names (``layer1/0/conv1/W`` for its
``layer1.0.conv1.weight``, ``layer1/0/downsample/1/running_mean`` ...), so
its ImageNet ``resnet50-*.pth`` / ``resnet101-*.pth`` load name for name
(:func:`torchvision_params`). Batch norm is frozen, an affine layer with the
ImageNet statistics (the paper's detection setup: minibatches of one or two
images are too small to estimate them). Input: torchvision's
normalisation (RGB in [0, 1], ImageNet mean and std).
"""

import os

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import initializers

from fasterrcnn.artifacts.fetch import fetch
from fasterrcnn.artifacts.table import ARTIFACTS
from fasterrcnn.functions.roi_ops import roi_op_function
from fasterrcnn.links.backbones.masking import (apply_mask, partial_sizes,
                                                region_mask)
from fasterrcnn.links.backbones.state_file import copy_into, read_state
from fasterrcnn.links.convolution_2d import Convolution2D
from fasterrcnn.links.faster_rcnn import FasterRCNN
from fasterrcnn.links.rpn import RegionProposalNetwork
from fasterrcnn.safe_npz import load_npz, open_npz

#: Bottleneck blocks of stages 1-4 (``layer1`` .. ``layer4``).
DEPTHS = {'resnet50': (3, 4, 6, 3), 'resnet101': (3, 4, 23, 3)}
#: Channels of the stem; the stages' inner widths are 1, 2, 4 and 8 times
#: it and their outputs 4 times those (the bottleneck's expansion).
WIDTH = 64
EXPANSION = 4
#: Input pixels per cell of the C4 map: the stem's convolution and max
#: pooling and the first blocks of stages 2 and 3 each halve the size.
FEAT_STRIDE = 16


class FrozenBatchNorm2D(chainer.Link):
    """Batch normalisation with fixed statistics: ``y = x * scale + shift``
    per channel, ``scale = weight / sqrt(running_var + eps)`` and ``shift =
    bias - running_mean * scale`` (torchvision's FrozenBatchNorm2d).

    The four arrays are persistent values (saved with the model, never
    updated by an optimizer), named as torchvision's batch norm buffers and
    parameters.

    Args:
        channels (int): channels of the input.
        eps (float): added to the variance (torchvision's 1e-5).
    """

    def __init__(self, channels, eps=1e-5):
        super(FrozenBatchNorm2D, self).__init__()
        self.eps = eps
        for name, fill in (('weight', 1), ('bias', 0), ('running_mean', 0),
                           ('running_var', 1)):
            self.add_persistent(name, numpy.full(channels, fill,
                                                 numpy.float32))

    def forward(self, x):
        """``(N, C, H, W)`` to ``(N, C, H, W)``."""
        xp = chainer.backend.get_array_module(x)
        scale = self.weight / xp.sqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        shape = (1, -1, 1, 1)
        return x * xp.asarray(scale.reshape(shape), dtype=x.dtype) + \
            xp.asarray(shift.reshape(shape), dtype=x.dtype)


class Bottleneck(chainer.Chain):
    """1 x 1, 3 x 3 (stride ``stride``), 1 x 1 convolutions, each with
    frozen batch norm, plus the shortcut (a 1 x 1 projection where the
    shape changes); ReLU after the sum. The stride is on the 3 x 3
    convolution (torchvision's ResNet v1.5).

    Args:
        in_channels, mid_channels, out_channels (int): widths.
        stride (int): 1 or 2.
        initialW: initializer of the convolutions.
    """

    def __init__(self, in_channels, mid_channels, out_channels, stride,
                 initialW):
        super(Bottleneck, self).__init__()
        self.stride = stride
        with self.init_scope():
            self.conv1 = Convolution2D(in_channels, mid_channels, 1,
                                       nobias=True, initialW=initialW)
            self.bn1 = FrozenBatchNorm2D(mid_channels)
            self.conv2 = Convolution2D(mid_channels, mid_channels, 3, stride,
                                       1, nobias=True, initialW=initialW)
            self.bn2 = FrozenBatchNorm2D(mid_channels)
            # Zero: each block starts as its shortcut. With batch norm
            # frozen (the identity until ImageNet weights come) nothing
            # else bounds the activations: a He-initialised ResNet-101
            # doubles their variance at each of its 33 blocks and overflows
            # float32 in the first iteration (measured). The residual
            # branch still learns: conv3's gradient is not zero (Fixup,
            # Zhang et al. 2019, sec. 3; Goyal et al. 2017, sec. 5.1).
            self.conv3 = Convolution2D(mid_channels, out_channels, 1,
                                       nobias=True,
                                       initialW=initializers.Zero())
            self.bn3 = FrozenBatchNorm2D(out_channels)
            if stride != 1 or in_channels != out_channels:
                self.downsample = chainer.ChainList(
                    Convolution2D(in_channels, out_channels, 1, stride,
                                  nobias=True, initialW=initialW),
                    FrozenBatchNorm2D(out_channels))
            else:
                self.downsample = None

    def forward(self, x, sizes=None):
        """``(N, C_in, H, W)`` to ``(N, C_out, H / stride, W / stride)``.

        ``sizes``: the valid ``(N, 2)`` sizes of ``x``, as
        :meth:`ResNetC4.forward`'s (None: every image fills ``x``); the
        values outside each image's region are set to 0 before the 3 x 3
        convolution, where cells mix (the caller masks the output).
        """
        h = F.relu(self.bn1(self.conv1(x)))
        h = apply_mask(h, region_mask(h, sizes))
        h = self.bn3(self.conv3(F.relu(self.bn2(self.conv2(h)))))
        shortcut = x
        if self.downsample is not None:
            conv, bn = self.downsample
            shortcut = bn(conv(x))
        return F.relu(h + shortcut)


def make_stage(in_channels, mid_channels, depth, stride, initialW):
    """A ChainList of ``depth`` bottlenecks, the first with ``stride``."""
    out_channels = mid_channels * EXPANSION
    blocks = []
    for i in range(depth):
        blocks.append(Bottleneck(in_channels, mid_channels, out_channels,
                                 stride if i == 0 else 1, initialW))
        in_channels = out_channels
    return chainer.ChainList(*blocks)


def _half(sizes):
    """Sizes after a stride-2 layer with 'same' padding: ``ceil(s / 2)``
    (7 x 7 / 2 pad 3, 3 x 3 / 2 pad 1 and 1 x 1 / 2 all give it)."""
    return None if sizes is None else (sizes + 1) // 2


def run_stage(stage, h, sizes):
    """The blocks of ``stage`` on ``h`` whose valid sizes are ``sizes``
    (None: no masking); returns the output and its valid sizes, each
    block's output set to 0 outside them."""
    for block in stage:
        h = block(h, sizes)
        if block.stride == 2:
            sizes = _half(sizes)
        h = apply_mask(h, region_mask(h, sizes))
    return h, sizes


class ResNetC4(chainer.Chain):
    """The stem and stages 1-3: images to the stride-16 C4 feature map.

    A padded-batch extractor (:mod:`fasterrcnn.links.extractor`).

    Args:
        depths (tuple of 3 ints): blocks of stages 1-3 (ResNet-50: 3, 4, 6;
            ResNet-101: 3, 4, 23).
        width (int): channels of the stem (64; smaller for CPU demos).
        freeze_stem (bool): keep the stem and stage 1 fixed (Faster R-CNN's
            practice for a pretrained extractor, and detectron2's default).
        initialW: initializer of the convolutions (He normal, fan-out, as
            torchvision's ResNet, when None).
    """

    feat_stride = FEAT_STRIDE

    def __init__(self, depths, width=WIDTH, freeze_stem=True,
                 initialW=None):
        super(ResNetC4, self).__init__()
        if initialW is None:
            initialW = initializers.HeNormal(fan_option='fan_out')
        self.freeze_stem = freeze_stem
        self.width = width
        with self.init_scope():
            self.conv1 = Convolution2D(3, width, 7, 2, 3, nobias=True,
                                       initialW=initialW)
            self.bn1 = FrozenBatchNorm2D(width)
            self.layer1 = make_stage(width, width, depths[0], 1, initialW)
            self.layer2 = make_stage(width * EXPANSION, width * 2, depths[1],
                                     2, initialW)
            self.layer3 = make_stage(width * 2 * EXPANSION, width * 4,
                                     depths[2], 2, initialW)

    @property
    def out_channels(self):
        """Channels of the C4 map: ``16 * width`` (1024 for ResNet-50)."""
        return self.width * 4 * EXPANSION

    def frozen_links(self):
        """The stem's and stage 1's convolutions, or none."""
        if not self.freeze_stem:
            return []
        return [self.conv1] + [link for link in self.layer1.links()
                               if isinstance(link, Convolution2D)]

    def output_sizes(self, sizes):
        """``(N, 2)`` int valid ``(H', W')`` of the C4 map for input sizes
        ``(N, 2)``: four halvings, each rounding up."""
        for _ in range(4):
            sizes = _half(sizes)
        return sizes

    def _stem(self, x, sizes):
        h = F.relu(self.bn1(self.conv1(x)))
        sizes = _half(sizes)
        h = apply_mask(h, region_mask(h, sizes))
        # After the ReLU every value is >= 0, so the cells set to 0 outside
        # an image's region never change a window's maximum.
        h = F.max_pooling_2d(h, 3, 2, 1, cover_all=False)
        sizes = _half(sizes)
        h = apply_mask(h, region_mask(h, sizes))
        return run_stage(self.layer1, h, sizes)

    def forward(self, x, sizes=None):
        """``(N, 3, H, W)`` normalised images to ``(N, 16 * width, H / 16,
        W / 16)`` (sizes rounded up).

        Args:
            x (chainer.Variable or array): ``(N, 3, H, W)`` network input.
            sizes (array or None): ``(N, 2)`` int ``(H_i, W_i)``: image
                ``i`` fills only the top-left ``H_i x W_i`` of ``x``; the
                values outside each image's region are set to 0 wherever
                cells mix, so that inside its region an image's features
                are those it has alone (to float rounding). None: every
                image fills ``x``.
        """
        sizes = partial_sizes(x, sizes)
        if self.freeze_stem:
            with chainer.no_backprop_mode():
                h, sizes = self._stem(x, sizes)
            # A leaf that needs no gradient (as VGG16's frozen blocks).
            h = chainer.Variable(h.array, requires_grad=False)
        else:
            h, sizes = self._stem(x, sizes)
        h, sizes = run_stage(self.layer2, h, sizes)
        return run_stage(self.layer3, h, sizes)[0]


class ResNetRoIHead(chainer.Chain):
    """RoI pooling to 14 x 14, stage 4 (stride 2: 7 x 7), global average
    pooling, then class scores and per-class boxes.

    Args:
        n_class (int): classes including the background.
        depth (int): blocks of stage 4 (3 for ResNet-50 and -101).
        width (int): the extractor's stem width (stage 4 is 8 times as
            wide inside, 32 times at its output).
        roi_size (int): bins per side of the RoI pooling (14).
        spatial_scale (float): feature cells per image pixel (1/16).
        roi_op (str): ``'pool'`` (RoI max pooling) or ``'align'``
            (RoIAlign; :mod:`fasterrcnn.functions.roi_ops`).
        initialW: initializer of stage 4's convolutions.
        loc_initialW, score_initialW: initializers of the box and score
            outputs (N(0, 0.001) and N(0, 0.01) when None).
    """

    def __init__(self, n_class, depth=3, width=WIDTH, roi_size=14,
                 spatial_scale=1. / FEAT_STRIDE, roi_op='pool',
                 initialW=None, loc_initialW=None, score_initialW=None):
        super(ResNetRoIHead, self).__init__()
        if initialW is None:
            initialW = initializers.HeNormal(fan_option='fan_out')
        if loc_initialW is None:
            loc_initialW = initializers.Normal(0.001)
        if score_initialW is None:
            score_initialW = initializers.Normal(0.01)
        self.n_class = n_class
        self.roi_size = roi_size
        self.spatial_scale = spatial_scale
        self.roi_op = roi_op
        self._roi = roi_op_function(roi_op)
        out_channels = width * 8 * EXPANSION
        with self.init_scope():
            self.layer4 = make_stage(width * 4 * EXPANSION, width * 8, depth,
                                     2, initialW)
            self.cls_loc = L.Linear(out_channels, n_class * 4,
                                    initialW=loc_initialW)
            self.score = L.Linear(out_channels, n_class,
                                  initialW=score_initialW)

    def forward(self, x, rois, roi_indices):
        """Head outputs for RoIs.

        Args:
            x (chainer.Variable): ``(N, C, H', W')`` C4 feature map.
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
        h = self._roi(x, rois, roi_indices, self.roi_size,
                      self.spatial_scale)
        h = run_stage(self.layer4, h, None)[0]
        h = F.mean(h, axis=(2, 3))
        return self.cls_loc(h), self.score(h)


class FasterRCNNResNet(FasterRCNN):
    """Faster R-CNN with a ResNet C4 backbone (see the module docstring).

    Initialisation: the RPN's convolutions N(0, 0.01), the head's outputs
    N(0, 0.01) (scores) and N(0, 0.001) (boxes), zero biases; the ResNet
    layers He normal but each block's last convolution zero (the block
    starts as its shortcut), batch norm the identity, until ImageNet
    weights are loaded over them (:mod:`fasterrcnn.weights.imagenet`).

    Args:
        n_fg_class (int): object classes, without the background.
        depths (tuple of 4 ints or None): blocks of stages 1-4; None: the
            backbone's (:data:`DEPTHS`); fewer for CPU demos.
        width (int): channels of the stem (64; smaller for CPU demos).
        rpn_channels (int or None): channels of the RPN's 3 x 3 conv (None:
            512, or the C4 map's width when smaller).
        ratios, anchor_scales: anchors (3 ratios x 3 scales).
        freeze_stem (bool): keep the stem and stage 1 fixed.
        roi_op (str): ``'pool'`` or ``'align'``.
        min_size, max_size (int): the resize of ``prepare``.
        normalize (str): ``'torchvision'`` (the only one torchvision's
            ResNet weights fit; ``'caffe'`` is accepted for weights of
            one's own).
        proposal_creator_params (dict): for the RPN's ProposalCreator.
        pretrained_model (str or None): weights to start from, as
            chainercv's models take them: ``'imagenet'`` (torchvision's
            ImageNet weights of the backbone, fetched on first use:
            ``resnet50-torchvision`` / ``resnet101-torchvision`` of
            :mod:`fasterrcnn.artifacts`), a torchvision ImageNet ``.pth``
            (or ``.npz`` of its names), or a whole model's ``.npz`` (a
            model file, or ``chainer.serializers.save_npz`` of this link).
            Read as data; not saved in :attr:`init_args`.

    Raises:
        FetchError: ``'imagenet'`` could not be fetched (one line: its URL
            and where to put it).
    """

    #: Overridden by the subclasses: ``'resnet50'`` or ``'resnet101'``.
    arch = None
    feat_stride = FEAT_STRIDE

    def __init__(self, n_fg_class, depths=None, width=WIDTH,
                 rpn_channels=None, ratios=(0.5, 1, 2),
                 anchor_scales=(8, 16, 32), freeze_stem=True, roi_op='pool',
                 min_size=600, max_size=1000, normalize='torchvision',
                 proposal_creator_params=None, pretrained_model=None):
        if depths is None:
            depths = DEPTHS[self.arch]
        if len(depths) != 4 or min(depths) < 1:
            raise ValueError('depths must give 4 stages of at least one '
                             'block, got {}'.format(depths))
        if n_fg_class < 1:
            raise ValueError('n_fg_class must be at least 1, got {}'.format(
                n_fg_class))
        #: The constructor's arguments, saved with the weights (model_io).
        self.init_args = dict(
            n_fg_class=int(n_fg_class), depths=[int(d) for d in depths],
            width=int(width), rpn_channels=rpn_channels,
            ratios=[float(r) for r in ratios],
            anchor_scales=[float(s) for s in anchor_scales],
            freeze_stem=bool(freeze_stem), roi_op=roi_op,
            min_size=int(min_size), max_size=int(max_size),
            normalize=normalize,
            proposal_creator_params=dict(proposal_creator_params or {}))
        extractor = ResNetC4(tuple(depths[:3]), width, freeze_stem)
        top = extractor.out_channels
        rpn = RegionProposalNetwork(
            top, rpn_channels or min(512, top), ratios=ratios,
            anchor_scales=anchor_scales, feat_stride=FEAT_STRIDE,
            proposal_creator_params=proposal_creator_params)
        head = ResNetRoIHead(n_fg_class + 1, depth=depths[3], width=width,
                             roi_size=14, spatial_scale=1. / FEAT_STRIDE,
                             roi_op=roi_op)
        super(FasterRCNNResNet, self).__init__(
            extractor, rpn, head, min_size=min_size, max_size=max_size,
            normalize=normalize)
        self.n_fg_class = n_fg_class
        if pretrained_model:
            _load_pretrained(self, pretrained_model)

    @classmethod
    def config_args(cls, model_config):
        """The constructor's arguments (less ``n_fg_class``) that the
        ``model.*`` keys of a config give (:mod:`fasterrcnn.config_keys`)."""
        m = model_config
        return dict(
            depths=None if m.resnet_depths is None
            else tuple(m.resnet_depths),
            width=m.resnet_width, rpn_channels=m.rpn_channels,
            ratios=tuple(m.ratios), anchor_scales=tuple(m.anchor_scales),
            freeze_stem=m.freeze_conv12, roi_op=m.roi_op,
            min_size=m.min_size, max_size=m.max_size, normalize=m.normalize)


class FasterRCNNResNet50(FasterRCNNResNet):
    """Faster R-CNN ResNet-50 C4 (see :class:`FasterRCNNResNet`)."""

    arch = 'resnet50'


class FasterRCNNResNet101(FasterRCNNResNet):
    """Faster R-CNN ResNet-101 C4 (see :class:`FasterRCNNResNet`)."""

    arch = 'resnet101'


def torchvision_params(model):
    """``(name, array)`` for every weight of a torchvision ResNet that the
    model holds, by its ``state_dict`` name (``layer1.0.conv1.weight``,
    ``bn1.running_mean`` ...): the extractor's (stem, stages 1-3) and the
    head's stage 4; the arrays are the model's own, to be written in place.
    torchvision's ``fc`` (ImageNet's classifier) has no counterpart."""
    pairs = []
    for link in (model.extractor, model.head.layer4):
        prefix = '' if link is model.extractor else 'layer4.'
        for path, child in link.namedlinks(skipself=True):
            name = prefix + path.lstrip('/').replace('/', '.')
            if isinstance(child, FrozenBatchNorm2D):
                pairs += [('{}.{}'.format(name, attr), getattr(child, attr))
                          for attr in ('weight', 'bias', 'running_mean',
                                       'running_var')]
            elif isinstance(child, Convolution2D):
                pairs.append((name + '.weight', child.W.array))
    return pairs


def load_imagenet_weights(model, path):
    """Copy torchvision's ImageNet ResNet weights into a FasterRCNNResNet.

    The file is torchvision's ``resnet50-*.pth`` / ``resnet101-*.pth`` (or
    its state_dict as an ``.npz``), read as data: ``conv1`` .. ``layer3``
    go into the extractor, ``layer4`` into the RoI head, batch norm's
    weight, bias and running statistics into the frozen batch norms; ``fc``
    is not used.

    Args:
        model (FasterRCNNResNet): of the file's depths and width (64).
        path (str): the ``.pth`` or ``.npz``.

    Raises:
        FileNotFoundError: no such file.
        BadFileError: a weight is missing or does not fit (names the file
            and the key); nothing in the file is executed.
    """
    targets = torchvision_params(model)
    weights = read_state(path, [key for key, _ in targets])
    copy_into(targets, weights, path,
              "torchvision's {} ImageNet weights".format(model.arch))


def _load_pretrained(model, pretrained_model):
    """``pretrained_model`` of the constructor, loaded into ``model``."""
    if pretrained_model == 'imagenet':
        artifact = ARTIFACTS['{}-torchvision'.format(model.arch)]
        load_imagenet_weights(model, fetch(artifact))
        return
    path = os.fspath(pretrained_model)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            'pretrained_model {} not found: give imagenet, torchvision\'s '
            'ImageNet .pth, or a model .npz'.format(path))
    if path.endswith('.npz'):
        with open_npz(path) as f:
            whole = 'extractor/conv1/W' in f.files
        if whole:
            load_npz(path, model, what='{} model file'.format(model.arch))
            return
    load_imagenet_weights(model, path)
