"""The results of an evaluation as a table, as JSON data, and as drawings.

``fasterrcnn-eval`` prints :func:`format_table` and
:func:`format_sections`, writes :func:`result_record` with
:func:`fasterrcnn.atomic.write_json` and draws :func:`save_visualizations`;
``result`` is what :func:`fasterrcnn.evaluation.evaluate.evaluate` returns.
Each metric of :data:`fasterrcnn.evaluation.metrics.METRICS` that the
result holds is shown as its ``in_table`` says: one column of the per-class
table, or a section of its own.
"""

import os

import numpy

from fasterrcnn.evaluation.metrics import METRICS, resolve_metric

#: Least score of a prediction drawn by ``save_visualizations``: lower than
#: the 'visualize' preset's 0.7 so that a weakly trained model still shows
#: what it finds.
VIS_SCORE_THRESH = 0.3


def _json_number(value):
    value = float(value)
    return None if numpy.isnan(value) else value


def _computed(result, in_table):
    """The metrics of the table that ``result`` holds, in the table's order,
    those of the per-class table (``in_table``) or the others."""
    return [m for m in METRICS.values()
            if m.name in result['metrics'] and m.in_table == in_table]


def format_ap(value):
    """An AP with four decimals, or ``n/a`` when undefined (NaN)."""
    return '{:.4f}'.format(value) if not numpy.isnan(value) else 'n/a'


def format_table(result, label_names):
    """Per-class AP under each metric of the table, and the mAPs, as text."""
    metrics = [result['metrics'][m.name] for m in _computed(result, True)]
    width = max([len('class'), len('mAP')] + [len(n) for n in label_names])
    columns = ['AP ' + m.title for m in _computed(result, True)]
    col = max(len(c) for c in columns)
    lines = ['{:<{}}  {}'.format('class', width, '  '.join(
        '{:>{}}'.format(c, col) for c in columns))]
    for lab, name in enumerate(label_names):
        values = [m['ap'][lab] for m in metrics]
        line = '{:<{}}  {}'.format(name, width, '  '.join(
            '{:>{}}'.format(format_ap(v), col) for v in values))
        if all(numpy.isnan(v) for v in values):
            line += '  (no ground truth)'
        lines.append(line)
    lines.append('-' * (width + (col + 2) * len(columns)))
    lines.append('{:<{}}  {}'.format('mAP', width, '  '.join(
        '{:>{}}'.format(format_ap(m['map']), col) for m in metrics)))
    return '\n'.join(lines)


def format_section(metric, values, label_names):
    """One metric's numbers as text: its single numbers, then its AP per
    class.

    Args:
        metric: an entry of :data:`~fasterrcnn.evaluation.metrics.METRICS`.
        values (dict): what its ``compute`` gave.
        label_names (sequence of str): the class names.
    """
    width = max([len(title) for _, title in metric.numbers] +
                [len(name) for name in label_names])
    lines = [metric.description]
    for key, title in metric.numbers:
        lines.append('{:<{}}  {:>7}'.format(title, width,
                                            format_ap(values[key])))
    lines.append('{} per class:'.format(metric.numbers[0][1]))
    for name, value in zip(label_names, values['ap']):
        lines.append('{:<{}}  {:>7}'.format(name, width, format_ap(value)))
    return '\n'.join(lines)


def format_sections(result, label_names):
    """The sections of the metrics outside the table that ``result``
    holds (see :func:`format_section`), as a list of texts."""
    return [format_section(m, result['metrics'][m.name], label_names)
            for m in _computed(result, False)]


def result_record(result, model, data_dir, split, n_in_split,
                  label_names, use_07_metric, device, metric=None):
    """The results as plain JSON data (NaN written as None).

    ``model`` is what was evaluated, as the record names it (a model file's
    absolute path, or the name of a trained model).

    ``metric`` (a name in :data:`~fasterrcnn.evaluation.metrics.METRICS`,
    or None: ``use_07_metric`` decides, see
    :func:`~fasterrcnn.evaluation.metrics.resolve_metric`) is the one whose
    mean is ``map``. Each metric of the table gives ``map_<name>`` and
    ``ap_<name>`` (per class name); each other one a block ``<name>`` with
    its single numbers and ``ap`` per class name.
    """
    metric = resolve_metric(metric, use_07_metric)
    record = {
        'model': model,
        'data_dir': os.path.abspath(data_dir),
        'split': split,
        'n_images': int(result['n_images']),
        'n_images_in_split': int(n_in_split),
        'label_names': list(label_names),
        'use_07_metric': bool(use_07_metric),
        'metric': metric.name,
        'map': _json_number(result['metrics'][metric.name]['map']),
    }

    def per_class(ap):
        return {name: _json_number(value)
                for name, value in zip(label_names, ap)}
    table = _computed(result, True)
    for m in table:
        record['map_' + m.name] = _json_number(
            result['metrics'][m.name]['map'])
    for m in table:
        record['ap_' + m.name] = per_class(result['metrics'][m.name]['ap'])
    for m in _computed(result, False):
        values = result['metrics'][m.name]
        block = {key: _json_number(values[key]) for key, _ in m.numbers}
        block['ap'] = per_class(values['ap'])
        record[m.name] = block
    record['seconds'] = float(result['seconds'])
    record['images_per_second'] = _json_number(result['images_per_second'])
    record['device'] = device
    return record


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
