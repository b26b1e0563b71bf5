"""Region proposal network (Faster R-CNN, sec. 3.1)."""

import chainer
import chainer.functions as F
import numpy
from chainer import initializers

from fasterrcnn.backend import to_cpu
from fasterrcnn.boxes import (enumerate_shifted_anchor, generate_anchor_base,
                              grid_anchor_index)
from fasterrcnn.creators.proposal import ProposalCreator
from fasterrcnn.links.convolution_2d import Convolution2D

#: What ranks anchors for the proposals (see ``proposal_score``).
PROPOSAL_SCORES = ('probability', 'logit')


def per_image(scale, n):
    """``n`` floats from one scale or a sequence of ``n`` (a list, a 1-d
    array, or None for 1)."""
    if scale is None:
        return [1.] * n
    values = numpy.asarray(to_cpu(scale), dtype=numpy.float64).reshape(-1)
    if values.size == 1:
        return [float(values[0])] * n
    if values.size != n:
        raise ValueError('{} scales for {} images'.format(values.size, n))
    return [float(v) for v in values]


class RegionProposalNetwork(chainer.Chain):
    """3 x 3 conv, then per-anchor objectness scores and box offsets.

    Args:
        in_channels (int): channels of the feature map.
        mid_channels (int): channels of the 3 x 3 conv (512).
        ratios, anchor_scales: anchor shapes (see
            :func:`fasterrcnn.boxes.generate_anchor_base`).
        feat_stride (int): input pixels per feature cell: the extractor's
            (:mod:`fasterrcnn.links.extractor`); 16, VGG16's, by default as
            in chainercv.
        proposal_creator_params (dict): arguments of
            :class:`fasterrcnn.creators.ProposalCreator`.
        initialW: initializer of the three convolutions (N(0, 0.01), as the
            PyTorch version, when None).
        proposal_score (str): what ranks the anchors for the proposals:
            ``'probability'``, the softmax foreground probability (the
            PyTorch version), or ``'logit'``, the raw foreground output
            (chainercv). The two orders differ where the background logit
            varies.
        proposal_creator (callable): the proposal creator itself, in place
            of one made from ``proposal_creator_params``.
    """

    def __init__(self, in_channels=512, mid_channels=512,
                 ratios=(0.5, 1, 2), anchor_scales=(8, 16, 32),
                 feat_stride=16, proposal_creator_params=None,
                 initialW=None, proposal_score='probability',
                 proposal_creator=None):
        super(RegionProposalNetwork, self).__init__()
        if proposal_score not in PROPOSAL_SCORES:
            raise ValueError('proposal_score must be one of {}, got {!r}'
                             .format(PROPOSAL_SCORES, proposal_score))
        self.anchor_base = generate_anchor_base(
            base_size=feat_stride, ratios=ratios, anchor_scales=anchor_scales)
        self.feat_stride = feat_stride
        self.proposal_score = proposal_score
        self.proposal_layer = proposal_creator or ProposalCreator(
            **(proposal_creator_params or {}))
        n_anchor = len(self.anchor_base)
        # N(0, 0.01) weights and zero biases, as the PyTorch version.
        w = initializers.Normal(0.01) if initialW is None else initialW
        with self.init_scope():
            self.conv1 = Convolution2D(in_channels, mid_channels, 3, 1, 1,
                                       initialW=w)
            self.score = Convolution2D(mid_channels, n_anchor * 2, 1, 1, 0,
                                       initialW=w)
            self.loc = Convolution2D(mid_channels, n_anchor * 4, 1, 1, 0,
                                     initialW=w)

    def forward(self, x, img_size, scale=1., img_sizes=None,
                feat_sizes=None):
        """chainercv's contract: the first five outputs of :meth:`propose`.
        """
        return self.propose(x, img_size, scale, img_sizes, feat_sizes)[:5]

    def propose(self, x, img_size, scale=1., img_sizes=None,
                feat_sizes=None):
        """RPN outputs and proposals.

        Args:
            x (chainer.Variable): ``(N, C, H', W')`` feature map.
            img_size (tuple of ints): ``(H, W)`` of the input image.
            scale (float or sequence of floats): input size over original
                size (sets the proposals' minimum size), one for all images
                or one per image.
            img_sizes, feat_sizes (arrays or None): ``(N, 2)`` int, for a
                padded batch: each image's own ``(H, W)`` in ``img_size``
                and its own cells ``(H', W')`` of the feature map. Its
                proposals then come from its own anchors only and are
                clipped to its own size, as when it is alone.

        Returns:
            tuple: ``rpn_locs`` ``(N, H'W'A, 4)`` and ``rpn_scores`` ``(N,
            H'W'A, 2)`` Variables (background, foreground logits);
            ``rois`` ``(K, 4)`` float32 and ``roi_indices`` ``(K,)`` int32
            arrays (proposals of all images); ``anchor`` ``(H'W'A, 4)``
            float32; ``own_anchor``, per image the positions of its own
            anchors in ``anchor`` (an int array on ``x``'s device), or None
            where the image fills the map. Anchors are ordered cell by cell,
            the ``A`` anchors of a cell together.
        """
        n, _, hh, ww = x.shape
        xp = chainer.backend.get_array_module(x)
        anchor = enumerate_shifted_anchor(self.anchor_base, self.feat_stride,
                                          hh, ww, xp)
        n_anchor = len(self.anchor_base)
        h = self.conv1(x, relu=True)
        rpn_locs = F.reshape(F.transpose(self.loc(h), (0, 2, 3, 1)),
                             (n, -1, 4))
        rpn_scores = F.transpose(self.score(h), (0, 2, 3, 1))
        fg = rpn_scores.array.reshape(n, hh, ww, n_anchor, 2)
        if self.proposal_score == 'probability':
            with chainer.no_backprop_mode():
                fg = F.softmax(fg, axis=4).array
        fg = fg[..., 1].reshape(n, -1)
        rpn_scores = F.reshape(rpn_scores, (n, -1, 2))
        scales = per_image(scale, n)
        rois, roi_indices, own_anchor = [], [], [None] * n
        for i in range(n):
            locs, scores, anchors, size = rpn_locs.array[i], fg[i], anchor, \
                img_size
            if img_sizes is not None:
                size = tuple(int(v) for v in img_sizes[i])
                index = self.own_anchors(hh, ww, feat_sizes[i], xp)
                own_anchor[i] = index
                if index is not None:
                    locs, scores, anchors = locs[index], scores[index], \
                        anchor[index]
            roi = self.proposal_layer(locs, scores, anchors, size,
                                      scale=scales[i])
            rois.append(roi)
            roi_indices.append(xp.full((len(roi),), i, dtype=numpy.int32))
        return (rpn_locs, rpn_scores, xp.concatenate(rois, axis=0),
                xp.concatenate(roi_indices, axis=0), anchor, own_anchor)

    def own_anchors(self, height, width, feat_size, xp=numpy):
        """Positions of an image's own anchors in a padded feature map, or
        None when the image fills it.

        Args:
            height, width (int): the feature map's size.
            feat_size (pair of int): the image's own ``(H', W')`` cells.
            xp: numpy or cupy, where the positions are wanted.
        """
        valid_height, valid_width = (int(v) for v in feat_size)
        if (valid_height, valid_width) == (height, width):
            return None
        return xp.asarray(grid_anchor_index(
            height, width, len(self.anchor_base), valid_height, valid_width))
