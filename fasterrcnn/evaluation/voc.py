"""The PASCAL VOC detection metric: average precision per class and its mean.

Follows the VOC devkit's definition:

* IoU counts pixels inclusively, so the max corners get ``+1`` (the one place
  in this package where boxes are not continuous);
* the detections of a class, over all images, are taken in descending score
  order (a stable sort: among equal scores the earlier image, then the
  earlier detection, comes first);
* each detection goes to the ground-truth box of its class in its image with
  the highest IoU; if that IoU >= ``iou_thresh`` and the box is not yet
  taken, the detection is a true positive and takes the box; if the box is
  already taken (a duplicate) or the IoU is too low, a false positive;
* a detection whose best box is a difficult one is neither, and difficult
  boxes are not counted among the positives;
* AP is the area under the precision/recall curve made monotone (precision
  at recall r = the best precision at any recall >= r) or, with
  ``use_07_metric``, the mean of that precision at recall 0, 0.1, ..., 1.

Boxes are ``(R, 4)`` ``(y_min, x_min, y_max, x_max)`` in pixels; labels are
``(R,)`` int in ``[0, n_fg_class)``.
"""

import numpy

from fasterrcnn.backend import to_cpu


def _as_numpy(arrays, name, dtype, tail_shape):
    out = []
    for i, a in enumerate(arrays):
        a = numpy.asarray(to_cpu(a), dtype=dtype)
        if a.size == 0:
            a = a.reshape((0,) + tail_shape)
        if a.shape[1:] != tail_shape:
            raise ValueError('{}[{}] has shape {}; expected (R{})'.format(
                name, i, a.shape,
                ''.join(', {}'.format(d) for d in tail_shape)))
        out.append(a)
    return out


def _voc_iou(bbox_a, bbox_b):
    """IoU of every pair, counting pixels inclusively (``+1``) as VOC does.

    Args:
        bbox_a (numpy.ndarray): ``(N, 4)`` ``(y_min, x_min, y_max, x_max)``.
        bbox_b (numpy.ndarray): ``(K, 4)``, same layout.

    Returns:
        numpy.ndarray: ``(N, K)`` float64.
    """
    a = bbox_a.astype(numpy.float64)
    b = bbox_b.astype(numpy.float64)
    top_left = numpy.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = numpy.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = numpy.prod(numpy.clip(bottom_right - top_left + 1, 0, None),
                       axis=2)
    area_a = numpy.prod(a[:, 2:] - a[:, :2] + 1, axis=1)
    area_b = numpy.prod(b[:, 2:] - b[:, :2] + 1, axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def calc_detection_voc_prec_rec(pred_bboxes, pred_labels, pred_scores,
                                gt_bboxes, gt_labels, gt_difficults=None,
                                iou_thresh=0.5, keep_ignored=False):
    """Precision and recall curves per class, as the VOC metric defines them.

    Args:
        pred_bboxes (iterable of numpy.ndarray): per image, ``(R, 4)`` float
            predicted boxes ``(y_min, x_min, y_max, x_max)`` in pixels.
            Every argument may be a list or any iterable (a generator too).
        pred_labels (list of numpy.ndarray): per image, ``(R,)`` int labels.
        pred_scores (list of numpy.ndarray): per image, ``(R,)`` float
            confidences.
        gt_bboxes (list of numpy.ndarray): per image, ``(G, 4)`` float
            ground-truth boxes, same layout.
        gt_labels (list of numpy.ndarray): per image, ``(G,)`` int labels.
        gt_difficults (list of numpy.ndarray): per image, ``(G,)`` bool;
            None means no box is difficult.
        iou_thresh (float): least IoU for a match.
        keep_ignored (bool): also give a point for each detection matched
            to a difficult box (it repeats the previous precision and
            recall, NaN before the first counted one), as chainercv's
            curves do; the AP is the same either way.

    Returns:
        tuple: ``(prec, rec)``, two lists of length ``n_fg_class`` (one more
        than the largest label in predictions or ground truth). For class
        ``l``, ``prec[l]`` and ``rec[l]`` are float64 arrays with one entry
        per counted detection (true or false positive) in descending score
        order: precision and recall after that detection. ``rec[l]`` is None
        when class ``l`` has no non-difficult ground truth (recall is then
        undefined); both are empty arrays when it has ground truth but no
        counted detection.
    """
    pred_bboxes, pred_labels, pred_scores, gt_bboxes, gt_labels = (
        list(x) for x in (pred_bboxes, pred_labels, pred_scores, gt_bboxes,
                          gt_labels))
    n_images = len(gt_bboxes)
    lists = (pred_bboxes, pred_labels, pred_scores, gt_labels)
    if gt_difficults is None:
        gt_difficults = [None] * n_images
    else:
        gt_difficults = list(gt_difficults)
    if any(len(x) != n_images for x in lists + (gt_difficults,)):
        raise ValueError('every argument must hold one entry per image')
    pred_bboxes = _as_numpy(pred_bboxes, 'pred_bboxes', numpy.float64, (4,))
    pred_labels = _as_numpy(pred_labels, 'pred_labels', numpy.int64, ())
    pred_scores = _as_numpy(pred_scores, 'pred_scores', numpy.float64, ())
    gt_bboxes = _as_numpy(gt_bboxes, 'gt_bboxes', numpy.float64, (4,))
    gt_labels = _as_numpy(gt_labels, 'gt_labels', numpy.int64, ())
    gt_difficults = [numpy.zeros(len(g), dtype=bool) if d is None else d
                     for d, g in zip(gt_difficults, gt_labels)]
    gt_difficults = _as_numpy(gt_difficults, 'gt_difficults', bool, ())
    for i in range(n_images):
        if not (len(pred_bboxes[i]) == len(pred_labels[i])
                == len(pred_scores[i])):
            raise ValueError('image {}: pred_bboxes, pred_labels and '
                             'pred_scores differ in length'.format(i))
        if not len(gt_bboxes[i]) == len(gt_labels[i]) \
                == len(gt_difficults[i]):
            raise ValueError('image {}: gt_bboxes, gt_labels and '
                             'gt_difficults differ in length'.format(i))

    labels = numpy.concatenate(
        [numpy.zeros(0, dtype=numpy.int64)] + pred_labels + gt_labels)
    if labels.size and labels.min() < 0:
        raise ValueError('labels must be >= 0')
    n_fg_class = int(labels.max()) + 1 if labels.size else 0

    prec, rec = [], []
    for lab in range(n_fg_class):
        # Per image: the detections of this class (score, image, order) and
        # the outcome of each (1 true positive, 0 false, -1 ignored).
        scores, outcomes = [], []
        n_pos = 0
        for i in range(n_images):
            p_mask = pred_labels[i] == lab
            g_mask = gt_labels[i] == lab
            p_bbox = pred_bboxes[i][p_mask]
            p_score = pred_scores[i][p_mask]
            g_bbox = gt_bboxes[i][g_mask]
            g_difficult = gt_difficults[i][g_mask]
            n_pos += int(numpy.count_nonzero(~g_difficult))
            if len(p_bbox) == 0:
                continue
            # Matching within an image depends only on the order of that
            # image's detections, so it can be done image by image; the
            # same stable order is used as for the global ranking below.
            order = numpy.argsort(-p_score, kind='stable')
            p_bbox, p_score = p_bbox[order], p_score[order]
            outcome = numpy.zeros(len(p_bbox), dtype=numpy.int8)
            if len(g_bbox):
                iou = _voc_iou(p_bbox, g_bbox)
                best = iou.argmax(axis=1)
                taken = numpy.zeros(len(g_bbox), dtype=bool)
                for k in range(len(p_bbox)):
                    j = best[k]
                    if iou[k, j] < iou_thresh:
                        continue
                    if g_difficult[j]:
                        outcome[k] = -1
                    elif not taken[j]:
                        outcome[k] = 1
                        taken[j] = True
            scores.append(p_score)
            outcomes.append(outcome)
        if scores:
            score = numpy.concatenate(scores)
            outcome = numpy.concatenate(outcomes)
            # Stable over the concatenation (image order, then rank within
            # the image), so ties keep image order.
            outcome = outcome[numpy.argsort(-score, kind='stable')]
        else:
            outcome = numpy.zeros(0, dtype=numpy.int8)
        # Ignored detections change neither count: drop them rather than
        # keep points that repeat the previous one (or read 0 / 0).
        if not keep_ignored:
            outcome = outcome[outcome >= 0]
        tp = numpy.cumsum(outcome == 1, dtype=numpy.float64)
        fp = numpy.cumsum(outcome == 0, dtype=numpy.float64)
        with numpy.errstate(invalid='ignore'):
            prec.append(tp / (tp + fp))
        rec.append(tp / n_pos if n_pos > 0 else None)
    return prec, rec


def calc_detection_voc_ap(prec, rec, use_07_metric=False):
    """Average precision per class from the curves of
    :func:`calc_detection_voc_prec_rec`.

    Args:
        prec (list of numpy.ndarray or None): per class, ``(D,)`` float
            precision (NaN counts as 0), or None for a class never seen.
        rec (list of numpy.ndarray or None): per class, ``(D,)`` float
            recall, or None for a class without positives.
        use_07_metric (bool): 11-point interpolation (VOC2007) instead of
            the area under the monotone curve (VOC2010 and later).

    Returns:
        numpy.ndarray: ``(n_fg_class,)`` float64; NaN where ``prec`` or
        ``rec`` is None.
    """
    ap = numpy.full(len(prec), numpy.nan, dtype=numpy.float64)
    for lab, (p, r) in enumerate(zip(prec, rec)):
        if p is None or r is None:
            continue
        # An undefined precision (NaN) counts as 0, as in the VOC devkit,
        # chainercv and the PyTorch version.
        p = numpy.nan_to_num(numpy.asarray(p, dtype=numpy.float64), nan=0.)
        r = numpy.asarray(r, dtype=numpy.float64)
        if use_07_metric:
            total = 0.0
            for t in numpy.linspace(0, 1, 11):
                reached = r >= t
                total += p[reached].max() if reached.any() else 0.0
            ap[lab] = total / 11
        else:
            # Sentinels: recall runs from 0 to 1, precision ends at 0.
            r = numpy.concatenate(([0.0], r, [1.0]))
            p = numpy.concatenate(([0.0], p, [0.0]))
            # Monotone envelope: best precision at this or any later point.
            p = numpy.maximum.accumulate(p[::-1])[::-1]
            # Sum rectangles where recall steps up.
            step = numpy.flatnonzero(r[1:] != r[:-1])
            ap[lab] = numpy.sum((r[step + 1] - r[step]) * p[step + 1])
    return ap


def eval_detection_voc(pred_bboxes, pred_labels, pred_scores, gt_bboxes,
                       gt_labels, gt_difficults=None, iou_thresh=0.5,
                       use_07_metric=False):
    """PASCAL VOC average precision per class and mean AP.

    Args: as :func:`calc_detection_voc_prec_rec` (lists with one array per
        image), plus
        use_07_metric (bool): see :func:`calc_detection_voc_ap`.

    Returns:
        dict: ``'ap'``: ``(n_fg_class,)`` float64, NaN for a class with no
        non-difficult ground truth; ``'map'``: float, the mean over the
        classes whose AP is not NaN (NaN if there is none).
    """
    prec, rec = calc_detection_voc_prec_rec(
        pred_bboxes, pred_labels, pred_scores, gt_bboxes, gt_labels,
        gt_difficults, iou_thresh=iou_thresh)
    ap = calc_detection_voc_ap(prec, rec, use_07_metric=use_07_metric)
    valid = ~numpy.isnan(ap)
    # numpy.nanmean warns on an all-NaN input; say NaN without the warning.
    mean_ap = float(ap[valid].mean()) if valid.any() else float('nan')
    return {'ap': ap, 'map': mean_ap}


def pad_to_classes(ap, n_fg_class):
    """AP per class padded with NaN to ``n_fg_class`` entries (classes that
    neither the predictions nor the ground truth mention come out missing
    from :func:`calc_detection_voc_ap`).

    Args:
        ap (numpy.ndarray): ``(L,)`` float64 AP of labels ``0 .. L - 1``.
        n_fg_class (int or None): the number of classes; None: ``ap`` as
            it is.

    Returns:
        numpy.ndarray: ``(n_fg_class,)`` float64 (``(L,)`` with None).

    Raises:
        ValueError: ``L > n_fg_class``: a label beyond the classes occurs.
    """
    if n_fg_class is None:
        return ap
    if len(ap) > n_fg_class:
        raise ValueError(
            'label {} occurs in the predictions or the ground truth, but '
            'there are only {} classes: the model and the data set do not '
            'have the same classes'.format(len(ap) - 1, n_fg_class))
    out = numpy.full(n_fg_class, numpy.nan, dtype=numpy.float64)
    out[:len(ap)] = ap
    return out


class VOCMetric(object):
    """The VOC metric as an entry of the metric table
    (:mod:`fasterrcnn.evaluation.metrics`, which says what each attribute
    means): AP@0.5 per class and its mean, the difficult objects ignored.

    Args:
        name (str): the metric's name.
        title (str): its name in tables.
        use_07_metric (bool): VOC2007's 11-point AP, else the area under the
            curve (VOC2010 and later).
    """

    #: One column of the table each: every evaluation gives both VOC
    #: numbers (NumPy only, from the predictions already made).
    in_table = True
    #: Least IoU of a match, VOC's.
    iou_thresh = 0.5

    def __init__(self, name, title, use_07_metric):
        self.name = name
        self.title = title
        self.use_07_metric = use_07_metric
        self.numbers = (('map', 'mAP ' + title),)
        self.description = 'PASCAL VOC AP@0.5, ' + title

    def require(self):
        """Nothing to check: the VOC metric needs NumPy only."""

    def compute(self, preds, gts, n_fg_class=None):
        """AP per class and its mean.

        Args:
            preds (tuple): ``(pred_bboxes, pred_labels, pred_scores)``,
                lists with one array per image (see
                :func:`calc_detection_voc_prec_rec`).
            gts (tuple): ``(gt_bboxes, gt_labels, gt_difficults)``, the same.
            n_fg_class (int or None): the number of classes (None: one more
                than the largest label seen).

        Returns:
            dict: ``'ap'``: ``(n_fg_class,)`` float64, NaN for a class with
            no non-difficult ground truth; ``'map'``: float, the mean over
            the classes whose AP is not NaN (NaN if there is none).

        Raises:
            ValueError: a label is ``n_fg_class`` or more.
        """
        result = eval_detection_voc(*(tuple(preds) + tuple(gts)),
                                    iou_thresh=self.iou_thresh,
                                    use_07_metric=self.use_07_metric)
        # The NaN padding leaves the mean as it is.
        return {'ap': pad_to_classes(result['ap'], n_fg_class),
                'map': result['map']}
