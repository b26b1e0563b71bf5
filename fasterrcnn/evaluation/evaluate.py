"""Run a detector over a data set and score it with the metrics of
:mod:`fasterrcnn.evaluation.metrics`.

One pass of ``predict`` over the images gives every metric asked for: by
default both VOC numbers (the VOC2007 11-point AP and the area under the
curve, VOC2010 and later), per class and their means; COCO's when asked
(:mod:`fasterrcnn.evaluation.coco`). ``fasterrcnn-eval`` uses
:func:`evaluate`; the Trainer's evaluator and the ChainerMN split use
:func:`predict_examples`.
"""

import contextlib

import numpy

from fasterrcnn.data.prefetch import read_ahead
from fasterrcnn.evaluation import side_by_side
from fasterrcnn.evaluation.metrics import METRICS
from fasterrcnn.progress import Progress


def _n_fg_class(model, dataset):
    names = getattr(dataset, 'label_names', None)
    if names is not None:
        return len(names)
    return getattr(model, 'n_fg_class', None)


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
            lists; None: ``model.predict`` (another, e.g. one that splits
            the chunk among processes, may take its place). With None, on
            2 cores, chunks of small images are predicted two at a time,
            each on a core of its own
            (:mod:`fasterrcnn.evaluation.side_by_side`).

    Returns:
        tuple: ``(pred_bboxes, pred_labels, pred_scores)`` and
        ``(gt_bboxes, gt_labels, gt_difficults)``, lists with one array per
        image (``difficult`` all False where the example has none).
    """
    if predict is None:
        # Small images two chunks at a time, side by side on 2 cores.
        n_lanes = side_by_side.lanes(model)

        def predict_group(chunks):
            return side_by_side.predict_chunks(model, chunks)
    else:
        n_lanes = 1

        def predict_group(chunks):
            # A chunk of examples that were all left out needs no
            # prediction.
            return [predict(imgs) if imgs else ([], [], [])
                    for imgs in chunks]
    preds = ([], [], [])
    gts = ([], [], [])
    done = 0
    # The next chunks of images are read (decoded, resized) on a thread
    # while these are predicted. This is the one place that cuts the
    # examples into batches: each chunk is one predict call.
    for group in read_ahead(_chunks(_chunks(examples, batch_size), n_lanes)):
        results = predict_group([
            [example[0] for example in chunk if example is not None]
            for chunk in group])
        for chunk, result in zip(group, results):
            done += len(chunk)
            _collect(chunk, result, preds, gts)
            if on_image is not None:
                on_image(done)
    return preds, gts


def _collect(chunk, results, preds, gts):
    """Append a chunk's predictions (``results``: ``predict``'s lists for
    its examples that are not None) and ground truth to ``preds`` and
    ``gts``."""
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


def evaluate(model, dataset, n_images=None, progress=True, batch_size=1,
             metrics=None):
    """AP per class and mAP of a detector, under each metric asked for.

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
            image, in test mode (as
            :meth:`fasterrcnn.links.faster_rcnn.FasterRCNN.predict`);
            optionally ``preset(name)``, a context manager that sets the
            thresholds of a preset and puts the previous ones back.
        dataset: a sequence of examples ``(img, bbox, label)`` or ``(img,
            bbox, label, difficult)`` (shapes as above, ``difficult``
            ``(G,)`` bool); its ``label_names``, when it has them, fix the
            number of classes.
        n_images (int or None): evaluate on the first ``n_images`` only
            (all of them when None or more than there are).
        progress (bool): a progress bar on stderr.
        batch_size (int): images per ``predict`` call.
        metrics (sequence or None): entries of
            :data:`fasterrcnn.evaluation.metrics.METRICS` to compute; None:
            those of the per-class table (``in_table``: both VOC ones).

    Returns:
        dict: ``'n_images'`` (int), ``'seconds'`` (float, the prediction
        loop including image reading), ``'images_per_second'`` (float),
        ``'metrics'``: for each metric's name, what its ``compute`` gives
        (``'map'``, ``'ap'`` of shape ``(n_fg_class,)`` float64 with NaN
        for a class without ground truth, and its other numbers); and the
        predictions: ``'pred_bboxes'``, ``'pred_labels'``,
        ``'pred_scores'`` (lists with one array per image, as ``predict``
        returns them).
    """
    if metrics is None:
        metrics = [m for m in METRICS.values() if m.in_table]
    for metric in metrics:
        # Before the long prediction loop: a missing package is said at
        # once.
        metric.require()
    n_total = len(dataset)
    if n_images is None:
        n = n_total
    else:
        if isinstance(n_images, bool) or int(n_images) != n_images or \
                n_images < 0:
            raise ValueError('n_images must be a non-negative int or None, '
                             'got {!r}'.format(n_images))
        n = min(int(n_images), n_total)

    preset = model.preset('evaluate') if hasattr(model, 'preset') else \
        contextlib.nullcontext()
    bar = Progress(n, desc='eval', unit='images', enabled=progress)
    with preset, bar:
        preds, gts = predict_examples(
            model, (dataset[i] for i in range(n)),
            lambda done: bar.update(done), batch_size=batch_size)
    seconds = bar.elapsed()

    n_fg_class = _n_fg_class(model, dataset)
    return {
        'n_images': n,
        'seconds': seconds,
        'images_per_second': n / seconds if seconds > 0 else float('nan'),
        'metrics': {metric.name: metric.compute(preds, gts, n_fg_class)
                    for metric in metrics},
        'pred_bboxes': preds[0],
        'pred_labels': preds[1],
        'pred_scores': preds[2],
    }
