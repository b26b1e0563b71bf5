"""Run a detector over a data set and score it with the PASCAL VOC metric
(and, when asked, the COCO metric).

One pass of ``predict`` over the images gives both VOC numbers: the
VOC2007 11-point AP and the area under the curve (VOC2010 and later), per
class and their means, and optionally COCO's (:mod:`fasterrcnn.evaluation.
coco`). ``eval.py`` and the training demo use this.
"""

import chainer
import numpy

from fasterrcnn.data.prefetch import read_ahead
from fasterrcnn.evaluation.coco import eval_detection_coco, require_pycocotools
from fasterrcnn.evaluation.voc import (calc_detection_voc_ap,
                                       calc_detection_voc_prec_rec)
from fasterrcnn.progress import Progress

#: The two AP definitions, by the names used in results: ``'voc07'`` (the
#: 11-point mean of VOC2007) and ``'area'`` (area under the monotone
#: precision/recall curve, VOC2010 and later).
METRICS = ('voc07', 'area')
#: The values of ``eval.metric``: the name each gives in results
#: (``'voc'`` is the area under the curve, ``'area'`` in :data:`METRICS`).
METRIC_RESULT_NAMES = {'voc07': 'voc07', 'voc': 'area', 'coco': 'coco'}


def resolve_metric(metric=None, use_07_metric=True):
    """The metric of an evaluation, as its results name it.

    Args:
        metric (str or None): ``eval.metric``: ``'voc07'``, ``'voc'``,
            ``'coco'``, or None to let ``use_07_metric`` decide.
        use_07_metric (bool): ``eval.use_07_metric``.

    Returns:
        str: ``'voc07'``, ``'area'`` or ``'coco'``.
    """
    if metric is None:
        return 'voc07' if use_07_metric else 'area'
    if metric not in METRIC_RESULT_NAMES:
        raise ValueError('metric must be one of {} or None, got {!r}'.format(
            tuple(METRIC_RESULT_NAMES), metric))
    return METRIC_RESULT_NAMES[metric]


def _n_fg_class(model, dataset):
    names = getattr(dataset, 'label_names', None)
    if names is not None:
        return len(names)
    return getattr(model, 'n_fg_class', None)


def _per_class(ap, n_fg_class):
    """AP padded with NaN to ``n_fg_class`` entries (classes that neither
    the predictions nor the ground truth mention come out missing)."""
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


def _mean(ap):
    valid = ~numpy.isnan(ap)
    # numpy.nanmean warns on all-NaN input; say NaN without the warning.
    return float(ap[valid].mean()) if valid.any() else float('nan')


def predict_examples(model, examples, on_image=None, batch_size=1,
                     predict=None):
    """Predict every example, ``batch_size`` images a time, and collect the
    truth.

    Args:
        model: has ``predict(imgs)`` (see :func:`evaluate`).
        examples (iterable): ``(img, bbox, label)`` or ``(img, bbox, label,
            difficult)`` tuples; a None (a bad example left out) counts as
            an image with no object and no detection.
        on_image (callable or None): called with the number of images done.
        batch_size (int): images per ``predict`` call (one padded batch).
        predict (callable or None): ``predict(imgs)`` of one chunk of
            images, returning ``(pred_bboxes, pred_labels, pred_scores)``
            lists; None: :func:`predict_images` of ``model`` (another, e.g.
            one that splits the chunk among processes, may take its place).

    Returns:
        tuple: ``(pred_bboxes, pred_labels, pred_scores)`` and
        ``(gt_bboxes, gt_labels, gt_difficults)``, lists with one array per
        image (``difficult`` all False where the example has none).
    """
    if predict is None:
        def predict(imgs):
            return predict_images(model, imgs, batch_size)
    preds = ([], [], [])
    gts = ([], [], [])
    done = 0
    # The next chunk of images is read (decoded, resized) on a thread while
    # this one is predicted.
    for chunk in read_ahead(_chunks(examples, batch_size)):
        results = predict(
            [example[0] for example in chunk if example is not None])
        k = 0
        for example in chunk:
            if example is None:
                # A bad example left out (fasterrcnn.data.bad_examples): no
                # detection and no object, which changes no AP, and the
                # lists stay aligned with the data set.
                for out, value in zip(preds + gts, _NOTHING):
                    out.append(value)
                continue
            for out, value in zip(preds, results):
                out.append(value[k])
            for out, value in zip(gts, ground_truth(example)):
                out.append(value)
            k += 1
        done += len(chunk)
        if on_image is not None:
            on_image(done)
    return preds, gts


def _chunks(items, size):
    """Lists of ``size`` consecutive items (the last one shorter)."""
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def predict_images(model, imgs, batch_size=1):
    """``model.predict`` in test mode, ``batch_size`` images a call.

    Args:
        model: has ``predict(imgs)`` (see :func:`evaluate`).
        imgs (iterable of numpy.ndarray): ``(3, H, W)`` float32 RGB images
            in ``[0, 255]``.
        batch_size (int): images per call.

    Returns:
        tuple: ``(pred_bboxes, pred_labels, pred_scores)``, lists with one
        array per image.
    """
    preds = ([], [], [])
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for chunk in _chunks(imgs, batch_size):
            for out, value in zip(preds, model.predict(chunk)):
                out.extend(value)
    return preds


def ground_truth(example):
    """``(bbox, label, difficult)`` of an example, ``difficult`` all False
    where the example has no flags."""
    bbox, label = example[1:3]
    difficult = example[3] if len(example) > 3 else \
        numpy.zeros(len(label), dtype=bool)
    return bbox, label, difficult


#: The predictions and ground truth of an example left out.
_NOTHING = (numpy.zeros((0, 4), numpy.float32), numpy.zeros(0, numpy.int32),
            numpy.zeros(0, numpy.float32), numpy.zeros((0, 4), numpy.float32),
            numpy.zeros(0, numpy.int32), numpy.zeros(0, bool))


def evaluate(model, dataset, n_images=None, progress=True, iou_thresh=0.5,
             batch_size=1, coco=False):
    """VOC AP per class and mAP, under both AP definitions, of a detector.

    The model predicts with its ``'evaluate'`` preset (NMS 0.3, score 0.05),
    ``batch_size`` images at a time, in data set order; its previous
    thresholds are put back afterwards. For the VOC protocol the data set
    should keep the difficult objects and return their flags
    (``VOCBboxDataset(..., use_difficult=True, return_difficult=True)``):
    a detection matched to a difficult object is then neither a true nor a
    false positive, and difficult objects are not counted as positives.

    Args:
        model: has ``predict(imgs)`` taking a list of ``(3, H, W)`` float32
            RGB images in ``[0, 255]`` and returning ``(bboxes, labels,
            scores)``, one ``(R, 4)`` float32 ``(y_min, x_min, y_max,
            x_max)`` pixel array, ``(R,)`` int32 and ``(R,)`` float32 per
            image; optionally ``use_preset(name)``.
        dataset: a sequence of examples ``(img, bbox, label)`` or ``(img,
            bbox, label, difficult)`` (shapes as above, ``difficult``
            ``(G,)`` bool); its ``label_names``, when it has them, fix the
            number of classes.
        n_images (int or None): evaluate on the first ``n_images`` only
            (all of them when None or more than there are).
        progress (bool): a progress bar on stderr.
        iou_thresh (float): least IoU of a match (0.5 in VOC).
        batch_size (int): images per ``predict`` call.
        coco (bool): also the COCO metric (needs pycocotools, see
            :func:`fasterrcnn.evaluation.coco.eval_detection_coco`).

    Returns:
        dict: ``'n_images'`` (int), ``'seconds'`` (float, the prediction
        loop including image reading), ``'images_per_second'`` (float),
        ``'ap_voc07'`` and ``'ap_area'`` (``(n_fg_class,)`` float64, NaN
        for a class without non-difficult ground truth), ``'map_voc07'``
        and ``'map_area'`` (float, the mean over the non-NaN classes, NaN
        if none), and the predictions: ``'pred_bboxes'``,
        ``'pred_labels'``, ``'pred_scores'`` (lists with one array per
        image, as ``predict`` returns them); with ``coco``, ``'coco'``:
        the dict of :func:`~fasterrcnn.evaluation.coco.eval_detection_coco`.
    """
    if coco:
        # Before the long prediction loop: a missing pycocotools is said at
        # once.
        require_pycocotools()
    n_total = len(dataset)
    if n_images is None:
        n = n_total
    else:
        if isinstance(n_images, bool) or int(n_images) != n_images or \
                n_images < 0:
            raise ValueError('n_images must be a non-negative int or None, '
                             'got {!r}'.format(n_images))
        n = min(int(n_images), n_total)

    saved = None
    if hasattr(model, 'use_preset'):
        saved = (model.nms_thresh, model.score_thresh)
        model.use_preset('evaluate')
    bar = Progress(n, desc='eval', unit='images', enabled=progress)
    try:
        with bar:
            preds, gts = predict_examples(
                model, (dataset[i] for i in range(n)),
                lambda done: bar.update(done), batch_size=batch_size)
    finally:
        if saved is not None:
            model.nms_thresh, model.score_thresh = saved
    pred_bboxes, pred_labels, pred_scores = preds
    gt_bboxes, gt_labels, gt_difficults = gts
    seconds = bar.elapsed()

    prec, rec = calc_detection_voc_prec_rec(
        pred_bboxes, pred_labels, pred_scores, gt_bboxes, gt_labels,
        gt_difficults, iou_thresh=iou_thresh)
    n_fg_class = _n_fg_class(model, dataset)
    result = {
        'n_images': n,
        'seconds': seconds,
        'images_per_second': n / seconds if seconds > 0 else float('nan'),
    }
    for metric in METRICS:
        ap = _per_class(calc_detection_voc_ap(
            prec, rec, use_07_metric=metric == 'voc07'), n_fg_class)
        result['ap_' + metric] = ap
        result['map_' + metric] = _mean(ap)
    if coco:
        result['coco'] = eval_detection_coco(
            pred_bboxes, pred_labels, pred_scores, gt_bboxes, gt_labels,
            gt_difficults, n_fg_class=n_fg_class)
    result['pred_bboxes'] = pred_bboxes
    result['pred_labels'] = pred_labels
    result['pred_scores'] = pred_scores
    return result
