"""``chainercv.extensions``: the VOC evaluator with chainercv's reporting."""

from fasterrcnn.evaluation import evaluator


class DetectionVOCEvaluator(evaluator.DetectionEvaluator):
    """:class:`fasterrcnn.evaluation.DetectionEvaluator` under chainercv's
    name, reporting as chainercv does: ``main/map``, and ``main/ap/<name>``
    for every name in ``label_names`` (NaN for a class without AP; none
    without names).

    Args:
        iterator (chainer.dataset.Iterator or None): the test examples
            ``(img, bbox, label[, difficult])`` (None on ranks other than 0
            with ``comm``).
        target (chainer.Link): has ``predict(imgs)``.
        use_07_metric (bool): the VOC2007 11-point AP.
        label_names (sequence of str or None): class names.
        comm: a ChainerMN communicator, or None: the prediction is split
            among its processes and rank 0 reports.
    """

    def __init__(self, iterator, target, use_07_metric=False,
                 label_names=None, comm=None):
        super(DetectionVOCEvaluator, self).__init__(
            iterator, target, use_07_metric=use_07_metric,
            label_names=label_names, comm=comm, report_all_names=True)
