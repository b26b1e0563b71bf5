"""Faster R-CNN: extractor, RPN and head, with prepare / predict."""

import contextlib

import chainer
import chainer.functions as F
import numpy

from fasterrcnn.backend import to_cpu
from fasterrcnn.boxes import (LOC_NORMALIZE_MEAN, LOC_NORMALIZE_STD, clip_bbox,
                              loc2bbox)
from fasterrcnn.data.batch import pad_images
from fasterrcnn.data.transforms import get_normalizer, prepare_image
from fasterrcnn.links import extractor as extractor_contract
from fasterrcnn.nms import non_maximum_suppression

#: ``predict`` thresholds: (NMS IoU, minimum class probability).
PRESETS = {
    'visualize': (0.3, 0.7),
    'evaluate': (0.3, 0.05),
}


class FasterRCNN(chainer.Chain):
    """Faster R-CNN made of a feature extractor, an RPN and a RoI head.

    Args:
        extractor (chainer.Link): images ``(N, 3, H, W)`` to features
            (the contract: :mod:`fasterrcnn.links.extractor`).
        rpn (chainer.Link): a
            :class:`fasterrcnn.links.rpn.RegionProposalNetwork`.
        head (chainer.Link): features and RoIs to class scores and boxes,
            e.g. :class:`fasterrcnn.links.backbones.vgg16.VGG16RoIHead`.
        min_size, max_size (int): ``prepare`` brings the shorter side to
            ``min_size`` unless the longer would pass ``max_size``.
        normalize (str or callable): ``'torchvision'`` (RGB, ImageNet mean
            and std of torchvision's weights) or ``'caffe'`` (BGR, mean
            subtracted, for Caffe weights): chosen by the weights in use.
        loc_normalize_mean, loc_normalize_std (tuples of 4 floats): the
            head's box outputs are ``(loc - mean) / std``.
        inclusive_nms (bool): ``predict``'s NMS suppresses at IoU >=
            ``nms_thresh`` (chainercv) rather than > (the PyTorch version).
    """

    def __init__(self, extractor, rpn, head, min_size=600, max_size=1000,
                 normalize='torchvision',
                 loc_normalize_mean=LOC_NORMALIZE_MEAN,
                 loc_normalize_std=LOC_NORMALIZE_STD, inclusive_nms=False):
        super(FasterRCNN, self).__init__()
        with self.init_scope():
            self.extractor = extractor
            self.rpn = rpn
            self.head = head
        self.min_size = min_size
        self.max_size = max_size
        self.normalize = normalize
        self._normalize = get_normalizer(normalize)
        self.loc_normalize_mean = loc_normalize_mean
        self.loc_normalize_std = loc_normalize_std
        self.inclusive_nms = inclusive_nms
        self.use_preset('visualize')

    @property
    def feat_stride(self):
        """Input pixels per feature cell: the extractor's, else the RPN's
        (None when neither says)."""
        return extractor_contract.feat_stride(self.extractor, self.rpn)

    @property
    def n_class(self):
        """Classes including the background."""
        return self.head.n_class

    def forward(self, x, scale=1., sizes=None):
        """Head outputs for the proposals of a batch of network inputs.

        Args:
            x (chainer.Variable or array): ``(N, 3, H, W)`` prepared images.
            scale (float or sequence of floats): input size over original
                size, for all images or one per image.
            sizes (array or None): ``(N, 2)`` int, each image's own ``(H,
                W)`` in a padded batch (see :mod:`fasterrcnn.data.batch`);
                None: every image fills ``x``.

        Returns:
            tuple: ``roi_cls_locs`` ``(R, n_class * 4)``, ``roi_scores``
            ``(R, n_class)`` Variables, ``rois`` ``(R, 4)`` float32 in input
            pixels and ``roi_indices`` ``(R,)`` int32.
        """
        return self._forward(x, scale, sizes)

    def _forward(self, x, scale, sizes):
        h, (_, _, rois, roi_indices, _, _), _ = self.propose(x, scale, sizes)
        roi_cls_locs, roi_scores = self.head(h, rois, roi_indices)
        return roi_cls_locs, roi_scores, rois, roi_indices

    def propose(self, x, scale=1., sizes=None):
        """Features and RPN outputs of a batch, each image checked for size.

        Args: as :meth:`forward`.

        Returns:
            tuple: ``features`` ``(N, C, H', W')``, the RPN's outputs
            ``(rpn_locs, rpn_scores, rois, roi_indices, anchor,
            own_anchor)`` (see
            :meth:`fasterrcnn.links.rpn.RegionProposalNetwork.propose`) and
            ``feat_sizes``, ``(N, 2)`` each image's own cells of the
            feature map (None when ``sizes`` is None).
        """
        img_size = x.shape[2:]
        stride = self.feat_stride
        if sizes is None:
            extractor_contract.check_input_size(img_size, stride)
            h = self.extractor(x)
            return h, self._rpn(h, img_size, scale), None
        if not extractor_contract.supports_padding(self.extractor):
            raise ValueError(
                'a padded batch needs an extractor with output_sizes '
                '(fasterrcnn.links.extractor); {} has none: give it one '
                'image at a time'.format(type(self.extractor).__name__))
        for size in sizes:
            extractor_contract.check_input_size(size, stride)
        h = self.extractor(x, sizes)
        feat_sizes = self.extractor.output_sizes(sizes)
        return h, self.rpn.propose(h, img_size, scale, sizes, feat_sizes), \
            feat_sizes

    def _rpn(self, h, img_size, scale):
        """The RPN (its chainercv contract, five outputs) on a batch whose
        images fill it; no image has anchors of its own, so the sixth
        output is None for each."""
        return tuple(self.rpn(h, img_size, scale)) + ([None] * len(h),)

    def use_preset(self, preset):
        """Set ``nms_thresh`` and ``score_thresh`` for ``predict``.

        Args:
            preset (str): ``'visualize'`` (NMS 0.3, score 0.7) or
                ``'evaluate'`` (NMS 0.3, score 0.05).
        """
        if preset not in PRESETS:
            raise ValueError('preset must be one of {}, got {!r}'.format(
                sorted(PRESETS), preset))
        self.nms_thresh, self.score_thresh = PRESETS[preset]

    @contextlib.contextmanager
    def preset(self, preset):
        """``predict``'s thresholds of a preset for the ``with`` block; the
        previous ``nms_thresh`` and ``score_thresh`` are put back after it,
        however it ends (an error included).

        Args:
            preset (str): a name in :data:`PRESETS` (see
                :meth:`use_preset`).

        Yields:
            FasterRCNN: this model.
        """
        kept = self.nms_thresh, self.score_thresh
        self.use_preset(preset)
        try:
            yield self
        finally:
            self.nms_thresh, self.score_thresh = kept

    def prepare(self, img):
        """Resize and normalise one image for the network.

        Args:
            img (numpy.ndarray): ``(3, H, W)`` float32 RGB in ``[0, 255]``.

        Returns:
            tuple: ``(3, H', W')`` float32 network input and the scale
            ``W' / W``.
        """
        return self._prepare(img)

    def _prepare(self, img):
        """Network input and scale of one image (what :meth:`predict`
        uses; :meth:`prepare` returns it)."""
        return prepare_image(img, self.min_size, self.max_size,
                             self._normalize)

    def predict(self, imgs):
        """Detect objects in images.

        The images go through the network in one padded batch; each gets
        the detections it gets alone (to float rounding). The network runs
        in test mode (``chainer.config.train`` False, no graph kept)
        whatever the caller's configuration: this is the one place that
        sets it, for the evaluation, ``fasterrcnn-predict`` and the
        training's pictures alike.

        Args:
            imgs (iterable of numpy.ndarray): ``(3, H, W)`` float32 RGB
                images in ``[0, 255]``, of any sizes.

        Returns:
            tuple of lists, one entry per image: ``bboxes`` ``(K, 4)``
            float32 ``(y_min, x_min, y_max, x_max)`` in the original image's
            pixels, ``labels`` ``(K,)`` int32 in ``[0, n_fg_class)``,
            ``scores`` ``(K,)`` float32 probabilities.
        """
        originals = [img.shape[1:] for img in imgs]
        prepared = [self._prepare(numpy.asarray(to_cpu(img), numpy.float32))
                    for img in imgs]
        if not prepared:
            return [], [], []
        if len(prepared) == 1 or extractor_contract.supports_padding(
                self.extractor):
            return self._detect(prepared, originals)
        # A plain extractor(x) (chainercv's contract) sees one image a call.
        results = [self._detect([one], [size])
                   for one, size in zip(prepared, originals)]
        return tuple([result[k][0] for result in results] for k in range(3))

    def _detect(self, prepared, originals):
        """:meth:`predict` of prepared images, in one (padded) batch.

        Args:
            prepared (list of tuples): ``(img, scale)`` of :meth:`prepare`
                per image.
            originals (list of pairs of ints): each image's original ``(H,
                W)``.
        """
        scales = [scale for _, scale in prepared]
        with chainer.using_config('train', False), \
                chainer.no_backprop_mode():
            if len(prepared) == 1:
                x, sizes, scale = prepared[0][0][None], None, scales[0]
            else:
                x, sizes = pad_images([img for img, _ in prepared])
                scale = scales
            roi_cls_loc, roi_score, rois, roi_indices = self._forward(
                self.xp.asarray(x), scale, sizes)
        bboxes, labels, scores = [], [], []
        for i, (size, scale) in enumerate(zip(originals, scales)):
            own = slice(None) if len(prepared) == 1 else roi_indices == i
            bbox, label, score = self.decode(
                roi_cls_loc.array[own], roi_score.array[own], rois[own],
                size, scale)
            bboxes.append(bbox)
            labels.append(label)
            scores.append(score)
        return bboxes, labels, scores

    def decode(self, roi_cls_loc, roi_score, rois, size, scale):
        """Boxes, labels and scores from the head's output for one image.

        Args:
            roi_cls_loc (array): ``(R, n_class * 4)`` float32 head offsets.
            roi_score (array): ``(R, n_class)`` float32 logits.
            rois (array): ``(R, 4)`` float32 RoIs in input pixels.
            size (tuple of ints): ``(H, W)`` of the original image.
            scale (float): input size over original size.

        Returns:
            tuple: ``bbox`` ``(K, 4)`` float32 (original pixels), ``label``
            ``(K,)`` int32, ``score`` ``(K,)`` float32, NumPy arrays; per
            class, boxes with probability above ``score_thresh`` after NMS at
            ``nms_thresh``, classes in order.
        """
        xp = chainer.backend.get_array_module(roi_cls_loc)
        n_class = self.n_class
        # In the head's dtype (float32; float64 in the parity run), as the
        # PyTorch version divides and scales its tensors.
        dtype = roi_cls_loc.dtype
        roi = rois / rois.dtype.type(scale)
        mean = xp.tile(xp.asarray(self.loc_normalize_mean, dtype), n_class)
        std = xp.tile(xp.asarray(self.loc_normalize_std, dtype), n_class)
        roi_cls_loc = (roi_cls_loc * std + mean).reshape(-1, 4)
        roi = xp.repeat(roi, n_class, axis=0)
        cls_bbox = clip_bbox(loc2bbox(roi, roi_cls_loc), size).reshape(
            -1, n_class, 4)
        with chainer.no_backprop_mode():
            prob = F.softmax(roi_score, axis=1).array
        finite = xp.isfinite(cls_bbox).all(axis=2)
        bbox, label, score = [], [], []
        for cls in range(1, n_class):
            mask = (prob[:, cls] > self.score_thresh) & finite[:, cls]
            bbox_cls = cls_bbox[mask, cls]
            prob_cls = prob[mask, cls]
            keep = non_maximum_suppression(bbox_cls, self.nms_thresh,
                                           prob_cls,
                                           inclusive=self.inclusive_nms)
            bbox.append(to_cpu(bbox_cls[keep]))
            label.append(numpy.full((len(keep),), cls - 1, numpy.int32))
            score.append(to_cpu(prob_cls[keep]))
        return (numpy.concatenate(bbox).astype(dtype).reshape(-1, 4),
                numpy.concatenate(label).astype(numpy.int32),
                numpy.concatenate(score).astype(dtype))
