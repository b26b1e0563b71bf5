"""The COCO detection metric, computed by pycocotools.

AP averaged over the IoU thresholds 0.50, 0.55, ..., 0.95 (COCO's main
number, ``AP@[.5:.95]``), AP at IoU 0.50 and 0.75, and AP of small (area <
32^2 pixels), medium and large objects, with at most 100 detections an
image, as COCO's own evaluation gives them: pycocotools does the matching
and the averaging, this module only hands it the boxes. pycocotools is an
optional dependency (``pip install ".[coco]"``), imported when the metric is
computed.

Boxes are handed over in memory (no file is written). The project's 0-based
inclusive ``(y_min, x_min, y_max, x_max)`` become COCO's ``[x, y, width,
height]`` with ``width = x_max - x_min + 1`` (the inverse of what
:class:`fasterrcnn.data.coco.COCOBboxDataset` reads), so that areas and IoUs
count pixels as the VOC metric does. A ground-truth object's area is its
box's (COCO's own files give the segmentation's area, which can put an
object in another size range). Difficult objects are COCO's crowd objects
(``iscrowd``): a detection matched to one is neither a true nor a false
positive and they are not counted among the positives, as in the VOC
metric; pycocotools measures the overlap with a crowd box as the part of
the detection inside it, which is the only way it has to ignore an object.
"""

import contextlib
import io

import numpy

from fasterrcnn.backend import to_cpu

#: The numbers :func:`eval_detection_coco` gives, in pycocotools' order of
#: ``COCOeval.stats``: the key, and its title in tables.
COCO_METRICS = (
    ('map', 'AP@[.5:.95]'),
    ('ap50', 'AP50'),
    ('ap75', 'AP75'),
    ('ap_small', 'AP small'),
    ('ap_medium', 'AP medium'),
    ('ap_large', 'AP large'),
)
#: How to get pycocotools, as the error says it.
INSTALL_HINT = ('pip install ".[coco]" (or pip install -r '
                'requirements/coco.txt)')


class MissingDependencyError(ValueError, ImportError):
    """An optional package that a chosen setting needs is not installed;
    the message is one line saying what to install. (A ValueError too, so
    that the commands report it as a bad setting, without a traceback.)"""


def require_pycocotools():
    """pycocotools' ``COCO`` and ``COCOeval`` classes.

    Raises:
        MissingDependencyError: pycocotools is not installed.
    """
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise MissingDependencyError(
            'eval.metric coco needs pycocotools, which is not installed: '
            + INSTALL_HINT) from None
    return COCO, COCOeval


def _xywh(bbox):
    """``(R, 4)`` ``(y_min, x_min, y_max, x_max)`` inclusive pixels as a
    list of COCO ``[x, y, width, height]``."""
    bbox = numpy.asarray(to_cpu(bbox), dtype=numpy.float64).reshape(-1, 4)
    xywh = numpy.stack([bbox[:, 1], bbox[:, 0], bbox[:, 3] - bbox[:, 1] + 1,
                        bbox[:, 2] - bbox[:, 0] + 1], axis=1)
    return xywh.tolist()


def _ints(values):
    return numpy.asarray(to_cpu(values)).reshape(-1).astype(int).tolist()


def eval_detection_coco(pred_bboxes, pred_labels, pred_scores, gt_bboxes,
                        gt_labels, gt_difficults=None, n_fg_class=None):
    """COCO AP of detections.

    Args:
        pred_bboxes (iterable of numpy.ndarray): per image, ``(R, 4)`` float
            ``(y_min, x_min, y_max, x_max)`` 0-based inclusive pixels.
        pred_labels (iterable of numpy.ndarray): per image, ``(R,)`` int
            labels in ``[0, n_fg_class)``.
        pred_scores (iterable of numpy.ndarray): per image, ``(R,)`` float.
        gt_bboxes (iterable of numpy.ndarray): per image, ``(G, 4)`` float,
            same layout.
        gt_labels (iterable of numpy.ndarray): per image, ``(G,)`` int.
        gt_difficults (iterable of numpy.ndarray or None): per image,
            ``(G,)`` bool, taken as ``iscrowd``; None: none is.
        n_fg_class (int or None): the number of classes (None: one more
            than the largest label seen).

    Returns:
        dict: ``'map'`` (AP@[.5:.95]), ``'ap50'``, ``'ap75'``,
        ``'ap_small'``, ``'ap_medium'``, ``'ap_large'`` (float, NaN where
        no ground truth defines it) and ``'ap'``: ``(n_fg_class,)`` float64
        AP@[.5:.95] per class (NaN for a class without non-crowd ground
        truth).

    Raises:
        MissingDependencyError: pycocotools is not installed.
        ValueError: a label is ``n_fg_class`` or more, or the lists differ
            in length.
    """
    COCO, COCOeval = require_pycocotools()
    lists = [list(x) for x in (pred_bboxes, pred_labels, pred_scores,
                               gt_bboxes, gt_labels)]
    if gt_difficults is None:
        gt_difficults = [numpy.zeros(len(label), dtype=bool)
                         for label in lists[4]]
    lists.append(list(gt_difficults))
    if len(set(len(x) for x in lists)) != 1:
        raise ValueError('the prediction and ground-truth lists must have '
                         'one entry per image each; got lengths {}'.format(
                             [len(x) for x in lists]))
    pred_bboxes, pred_labels, pred_scores, gt_bboxes, gt_labels, \
        gt_difficults = lists
    largest = max([-1] + [max(_ints(labels), default=-1)
                          for labels in pred_labels + gt_labels])
    if n_fg_class is None:
        n_fg_class = largest + 1
    elif largest >= n_fg_class:
        raise ValueError(
            'label {} occurs in the predictions or the ground truth, but '
            'there are only {} classes'.format(largest, n_fg_class))

    images = [{'id': i + 1} for i in range(len(gt_bboxes))]
    # Category id = label + 1 (pycocotools treats the ids as opaque).
    categories = [{'id': lab + 1, 'name': str(lab)}
                  for lab in range(n_fg_class)]
    gts, dets = [], []
    for i in range(len(gt_bboxes)):
        for box, lab, crowd in zip(_xywh(gt_bboxes[i]), _ints(gt_labels[i]),
                                   _ints(gt_difficults[i])):
            gts.append({'id': len(gts) + 1, 'image_id': i + 1,
                        'category_id': lab + 1, 'bbox': box,
                        'area': box[2] * box[3], 'iscrowd': int(crowd)})
        scores = numpy.asarray(to_cpu(pred_scores[i]),
                               dtype=numpy.float64).reshape(-1).tolist()
        for box, lab, score in zip(_xywh(pred_bboxes[i]),
                                   _ints(pred_labels[i]), scores):
            dets.append({'id': len(dets) + 1, 'image_id': i + 1,
                         'category_id': lab + 1, 'bbox': box,
                         'score': score, 'area': box[2] * box[3],
                         'iscrowd': 0})

    # pycocotools prints its progress on stdout: keep it off the
    # commands' output.
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = _coco(COCO, images, categories, gts)
        coco_dt = _coco(COCO, images, categories, dets)
        evaluation = COCOeval(coco_gt, coco_dt, 'bbox')
        evaluation.params.imgIds = [image['id'] for image in images]
        evaluation.params.catIds = [c['id'] for c in categories]
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    result = {key: _number(value) for (key, _), value in
              zip(COCO_METRICS, evaluation.stats)}
    result['ap'] = _ap_per_category(evaluation, n_fg_class)
    return result


def _coco(COCO, images, categories, annotations):
    """A pycocotools ``COCO`` object made from data in memory."""
    coco = COCO()
    coco.dataset = {'images': images, 'categories': categories,
                    'annotations': annotations}
    coco.createIndex()
    return coco


def _number(value):
    """pycocotools' -1 (undefined) as NaN."""
    value = float(value)
    return float('nan') if value < 0 else value


def _ap_per_category(evaluation, n_fg_class):
    """AP@[.5:.95] of each class, over all areas and 100 detections an
    image, from the accumulated precision (``[T, R, K, A, M]``: IoU
    thresholds, recall points, classes, area ranges, detection limits; -1
    where a class has no ground truth)."""
    precision = evaluation.eval['precision']
    area = evaluation.params.areaRngLbl.index('all')
    most = evaluation.params.maxDets.index(max(evaluation.params.maxDets))
    ap = numpy.full(n_fg_class, numpy.nan, dtype=numpy.float64)
    for k in range(n_fg_class):
        values = precision[:, :, k, area, most]
        values = values[values > -1]
        if values.size:
            ap[k] = float(values.mean())
    return ap


class COCOMetric(object):
    """The COCO metric as an entry of the metric table
    (:mod:`fasterrcnn.evaluation.metrics`, which says what each attribute
    means): AP@[.5:.95] per class and its mean, and the other five numbers
    of :data:`COCO_METRICS`.
    """

    name = 'coco'
    title = 'COCO AP@[.5:.95]'
    #: A section of its own, computed only when chosen: it needs
    #: pycocotools, an optional package.
    in_table = False
    numbers = COCO_METRICS
    description = 'COCO metric (pycocotools, at most 100 detections an image)'

    def require(self):
        """Raises MissingDependencyError without pycocotools."""
        require_pycocotools()

    def compute(self, preds, gts, n_fg_class=None):
        """The numbers of :func:`eval_detection_coco` (the arguments: the
        metric protocol's, :mod:`fasterrcnn.evaluation.metrics`)."""
        return eval_detection_coco(*(tuple(preds) + tuple(gts)),
                                   n_fg_class=n_fg_class)
