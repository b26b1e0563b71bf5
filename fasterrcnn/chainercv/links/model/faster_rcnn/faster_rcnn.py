"""chainercv's FasterRCNN base class: mean subtraction, chainercv's resize
and its ``prepare`` / ``forward`` signatures."""

import numpy

from fasterrcnn.boxes import LOC_NORMALIZE_MEAN, LOC_NORMALIZE_STD
from fasterrcnn.chainercv.transforms import resize
from fasterrcnn.links import faster_rcnn


class FasterRCNN(faster_rcnn.FasterRCNN):
    """Faster R-CNN with chainercv's preprocessing and NMS rule.

    ``prepare`` scales the shorter side to ``min_size`` (or the longer to
    ``max_size``), truncating the new size to integers, resizes with
    :func:`fasterrcnn.chainercv.transforms.resize` (bilinear) and subtracts
    ``mean``; ``predict``'s NMS suppresses at IoU >= ``nms_thresh``.
    Everything else is :class:`fasterrcnn.links.FasterRCNN`'s.

    Args:
        extractor, rpn, head (chainer.Link): the three stages.
        mean (numpy.ndarray): ``(3, 1, 1)`` float32 RGB mean subtracted in
            ``prepare``.
        min_size, max_size (int): the resize of ``prepare``.
        loc_normalize_mean, loc_normalize_std (tuples of 4 floats): the
            head's box outputs are ``(loc - mean) / std``.
    """

    def __init__(self, extractor, rpn, head, mean, min_size=600,
                 max_size=1000, loc_normalize_mean=LOC_NORMALIZE_MEAN,
                 loc_normalize_std=LOC_NORMALIZE_STD):
        super(FasterRCNN, self).__init__(
            extractor, rpn, head, min_size=min_size, max_size=max_size,
            normalize=self._subtract_mean,
            loc_normalize_mean=loc_normalize_mean,
            loc_normalize_std=loc_normalize_std, inclusive_nms=True)
        self.mean = mean

    def _subtract_mean(self, img):
        return (img - self.mean).astype(numpy.float32, copy=False)

    def forward(self, x, scales=None):
        """``(roi_cls_locs, roi_scores, rois, roi_indices)``.

        Args:
            x (chainer.Variable or array): ``(N, 3, H, W)`` prepared images.
            scales (float, sequence of floats or None): each image's resize
                factor (None: 1).

        Returns: as :meth:`fasterrcnn.links.FasterRCNN.forward`.
        """
        return super(FasterRCNN, self).forward(x, scales)

    def prepare(self, img):
        """The network input of one image.

        Args:
            img (numpy.ndarray): ``(3, H, W)`` RGB in ``[0, 255]``.

        Returns:
            numpy.ndarray: ``(3, H', W')`` float32, resized with the mean
            subtracted.
        """
        return self._prepare(img)[0]

    def _prepare(self, img):
        _, height, width = img.shape
        scale = self.min_size / min(height, width)
        if scale * max(height, width) > self.max_size:
            scale = self.max_size / max(height, width)
        img = resize(img, (int(height * scale), int(width * scale)))
        img = self._normalize(img)
        return img, img.shape[2] / width
