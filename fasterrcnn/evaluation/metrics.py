"""The detection metrics: one table, read by the Trainer's evaluator, the
evaluation run, its report and ``fasterrcnn-eval``.

A metric is an object with:

* ``name`` (str): its one name: a value of ``eval.metric`` and of
  ``--metric``, and its name in results (``map_<name>`` or a ``<name>``
  block in a JSON record, ``validation/main/<name>/<number>`` in the
  Trainer's log);
* ``title`` (str): how tables and the closing line of ``fasterrcnn-eval``
  name it;
* ``in_table`` (bool): True: cheap enough for every evaluation to compute
  it, and shown as one column of the per-class table (``map_<name>`` and
  ``ap_<name>`` in a JSON record); False: computed only when it is the
  chosen metric, and shown in a section of its own (a ``<name>`` block in a
  JSON record);
* ``numbers`` (tuple of ``(key, title)``): the single numbers ``compute``
  gives, ``'map'`` first; the Trainer's evaluator reports the others as
  ``<name>/<key>``;
* ``description`` (str): the heading of its section;
* ``require()``: raises
  :class:`~fasterrcnn.evaluation.coco.MissingDependencyError` when an
  optional package it needs is missing (called before the long prediction
  loop, so that the error comes at once);
* ``compute(preds, gts, n_fg_class)``: ``preds`` is ``(pred_bboxes,
  pred_labels, pred_scores)`` and ``gts`` is ``(gt_bboxes, gt_labels,
  gt_difficults)``, lists with one array per image: ``(R, 4)`` float32
  ``(y_min, x_min, y_max, x_max)`` pixels, ``(R,)`` int32 labels in
  ``[0, n_fg_class)``, ``(R,)`` float32 scores; ``(G, 4)``, ``(G,)`` int32
  and ``(G,)`` bool for the truth; ``n_fg_class`` is the number of classes
  (None: one more than the largest label seen). It returns a dict with
  ``'map'`` (float, NaN when undefined), ``'ap'`` (``(n_fg_class,)``
  float64 per class, NaN for a class without ground truth) and the other
  keys of ``numbers``; a label ``n_fg_class`` or more is a ValueError.

Adding a metric: its algorithm and such an object in a file of its own
beside ``voc.py`` and ``coco.py``, one entry in :data:`METRICS`, and its
name among the values of ``eval.metric`` in
:mod:`fasterrcnn.config_keys` (the configuration sits below this package
and cannot import it; a test checks that the two agree).
"""

from fasterrcnn.evaluation.coco import COCOMetric
from fasterrcnn.evaluation.voc import VOCMetric

#: Every metric by its name, in the order tables show them.
METRICS = {metric.name: metric for metric in (
    VOCMetric('voc07', 'VOC07 11-point', use_07_metric=True),
    VOCMetric('voc', 'area (VOC2010+)', use_07_metric=False),
    COCOMetric(),
)}


def resolve_metric(metric=None, use_07_metric=True):
    """The metric of an evaluation.

    Args:
        metric (str or None): ``eval.metric``, a name in :data:`METRICS`, or
            None to let ``use_07_metric`` decide.
        use_07_metric (bool): ``eval.use_07_metric``: ``'voc07'`` when
            true, else ``'voc'`` (when ``metric`` is None).

    Returns:
        the entry of :data:`METRICS`.

    Raises:
        ValueError: ``metric`` is not a name in :data:`METRICS`.
    """
    if metric is None:
        metric = 'voc07' if use_07_metric else 'voc'
    if metric not in METRICS:
        raise ValueError('metric must be one of {} or None, got {!r}'.format(
            tuple(METRICS), metric))
    return METRICS[metric]


def metrics_with(metric):
    """What an evaluation that reports ``metric`` computes: every metric
    of the table (``in_table``) and ``metric``, in the table's order.

    Args:
        metric: an entry of :data:`METRICS`.

    Returns:
        list: entries of :data:`METRICS`.
    """
    return [m for m in METRICS.values() if m.in_table or m is metric]
