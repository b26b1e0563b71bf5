"""The results of an evaluation as a table, as JSON, and as drawings.

``fasterrcnn-eval`` prints :func:`format_table`, writes
:func:`result_record` with :func:`write_json_atomic` and draws
:func:`save_visualizations`; ``result`` is what
:func:`fasterrcnn.evaluation.run.evaluate` returns.
"""

import json
import os

import numpy

from fasterrcnn.atomic import atomic_write
from fasterrcnn.evaluation.coco import COCO_METRICS
from fasterrcnn.evaluation.run import METRICS

#: Column titles of the two AP definitions, and the COCO metric's name.
METRIC_TITLES = {'voc07': 'VOC07 11-point', 'area': 'area (VOC2010+)',
                 'coco': 'COCO AP@[.5:.95]'}
#: Least score of a prediction drawn by ``save_visualizations``: lower than
#: the 'visualize' preset's 0.7 so that a weakly trained model still shows
#: what it finds.
VIS_SCORE_THRESH = 0.3


def _json_number(value):
    value = float(value)
    return None if numpy.isnan(value) else value


def format_ap(value):
    """An AP with four decimals, or ``n/a`` when undefined (NaN)."""
    return '{:.4f}'.format(value) if not numpy.isnan(value) else 'n/a'


def format_table(result, label_names):
    """Per-class AP under both metrics and the mAPs, as text."""
    width = max([len('class'), len('mAP')] + [len(n) for n in label_names])
    columns = ['AP ' + METRIC_TITLES[m] for m in METRICS]
    col = max(len(c) for c in columns)
    lines = ['{:<{}}  {}'.format('class', width, '  '.join(
        '{:>{}}'.format(c, col) for c in columns))]
    for lab, name in enumerate(label_names):
        values = [result['ap_' + m][lab] for m in METRICS]
        line = '{:<{}}  {}'.format(name, width, '  '.join(
            '{:>{}}'.format(format_ap(v), col) for v in values))
        if all(numpy.isnan(v) for v in values):
            line += '  (no ground truth)'
        lines.append(line)
    lines.append('-' * (width + (col + 2) * len(METRICS)))
    lines.append('{:<{}}  {}'.format('mAP', width, '  '.join(
        '{:>{}}'.format(format_ap(result['map_' + m]), col)
        for m in METRICS)))
    return '\n'.join(lines)


def format_coco(coco, label_names):
    """The COCO metric's numbers (``result['coco']``) as text: the six
    summary values, then AP@[.5:.95] per class."""
    width = max([len(title) for _, title in COCO_METRICS] +
                [len(name) for name in label_names])
    lines = ['COCO metric (pycocotools, at most 100 detections an image)']
    for key, title in COCO_METRICS:
        lines.append('{:<{}}  {:>7}'.format(title, width,
                                            format_ap(coco[key])))
    lines.append('AP@[.5:.95] per class:')
    for name, value in zip(label_names, coco['ap']):
        lines.append('{:<{}}  {:>7}'.format(name, width, format_ap(value)))
    return '\n'.join(lines)


def result_record(result, model_path, data_dir, split, n_in_split,
                  label_names, use_07_metric, device, metric=None):
    """The results as plain JSON data (NaN written as None).

    ``metric`` (``'voc07'``, ``'area'`` or ``'coco'``, as
    :func:`fasterrcnn.evaluation.run.resolve_metric` names it) is the one
    whose mean is ``map``; None: ``use_07_metric`` decides. With ``'coco'``
    the record also has ``coco``: the six numbers and ``ap`` per class.
    """
    if metric is None:
        metric = 'voc07' if use_07_metric else 'area'
    main = result['coco']['map'] if metric == 'coco' else \
        result['map_' + metric]
    record = {
        'model': os.path.abspath(model_path),
        'data_dir': os.path.abspath(data_dir),
        'split': split,
        'n_images': int(result['n_images']),
        'n_images_in_split': int(n_in_split),
        'label_names': list(label_names),
        'use_07_metric': bool(use_07_metric),
        'metric': metric,
        'map': _json_number(main),
    }
    for m in METRICS:
        record['map_' + m] = _json_number(result['map_' + m])
    for m in METRICS:
        record['ap_' + m] = {name: _json_number(ap) for name, ap in
                             zip(label_names, result['ap_' + m])}
    if 'coco' in result:
        coco = {key: _json_number(result['coco'][key])
                for key, _ in COCO_METRICS}
        coco['ap'] = {name: _json_number(ap) for name, ap in
                      zip(label_names, result['coco']['ap'])}
        record['coco'] = coco
    record['seconds'] = float(result['seconds'])
    record['images_per_second'] = _json_number(result['images_per_second'])
    record['device'] = device
    return record


def write_json_atomic(path, data):
    """Write JSON so that ``path`` is never left half-written."""
    with atomic_write(path, binary=False) as f:
        json.dump(data, f, indent=2, allow_nan=False)
        f.write('\n')


def save_visualizations(dataset, result, label_names, vis_dir, vis_n):
    """Draw the first ``vis_n`` evaluated images; returns the paths."""
    # matplotlib is imported only when drawing is asked for.
    from fasterrcnn.visualize import draw_detections
    paths = []
    for i in range(min(vis_n, result['n_images'])):
        example = dataset[i]
        if example is None:  # a bad example left out
            continue
        img, gt_bbox, gt_label = example[:3]
        score = numpy.asarray(result['pred_scores'][i])
        keep = score >= VIS_SCORE_THRESH
        path = os.path.join(vis_dir, dataset.ids[i] + '.png')
        draw_detections(img, numpy.asarray(result['pred_bboxes'][i])[keep],
                        numpy.asarray(result['pred_labels'][i])[keep],
                        score[keep], label_names=label_names,
                        gt_bbox=gt_bbox, gt_label=gt_label, path=path)
        paths.append(path)
    return paths
