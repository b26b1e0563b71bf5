"""A Trainer extension that reports a detection metric of a detector (one
of :data:`fasterrcnn.evaluation.metrics.METRICS`)."""

import numpy
from chainer import reporter
from chainer.training import extensions

from fasterrcnn.evaluation.distributed import predict_distributed
from fasterrcnn.evaluation.evaluate import predict_examples
from fasterrcnn.evaluation.metrics import resolve_metric


class DetectionEvaluator(extensions.Evaluator):
    """Runs a detector over a data set and reports mAP and AP per class.

    In a :class:`chainer.training.Trainer` (default name ``'validation'``)
    the values appear as ``validation/main/map`` and
    ``validation/main/ap/<label name>``. Classes whose AP is NaN (no
    non-difficult ground truth in the data) are not reported, unless
    ``report_all_names``. A metric's other numbers are reported as
    ``validation/main/<metric>/<number>``: with ``metric='coco'``, ``map``
    and ``ap/<name>`` are COCO's AP@[.5:.95], and ``.../coco/ap50``,
    ``.../coco/ap75``, ``.../coco/ap_small``, ``.../coco/ap_medium`` and
    ``.../coco/ap_large`` are reported too (NaN where undefined).

    The predictions are made in test mode: Chainer's ``Evaluator`` runs
    :meth:`evaluate` with ``chainer.config.train`` False, and the model's
    ``predict`` enters test mode itself.

    Args:
        iterator (chainer.dataset.Iterator): a non-repeating iterator over
            examples ``(img, bbox, label)`` or ``(img, bbox, label,
            difficult)``: ``(3, H, W)`` float32 RGB in ``[0, 255]``,
            ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)`` pixels,
            ``(R,)`` int32, ``(R,)`` bool. It is reset before each run; its
            batch size is the number of images per ``predict`` call. With
            ``comm``, only rank 0's is read (the others may pass None).
        target (chainer.Link): has ``predict(imgs)`` taking a list of such
            images and returning ``(bboxes, labels, scores)``, lists with one
            ``(R, 4)`` float32, ``(R,)`` int32 and ``(R,)`` float32 array
            per image (boxes in the pixels of the image given).
        use_07_metric (bool): the VOC2007 11-point AP (when ``metric`` is
            None).
        label_names (sequence of str): names for the ``ap/<name>`` keys;
            None uses the label numbers.
        comm: a ChainerMN communicator, or None. With one, every process
            predicts its share of each batch
            (:func:`fasterrcnn.evaluation.distributed.predict_distributed`)
            and rank 0 alone scores and reports; the others return ``{}``.
        report_all_names (bool): chainercv's reporting: ``ap/<name>`` for
            every name in ``label_names``, NaN where a class has no AP, and
            no per-class key at all without ``label_names``.
        metric (str or None): ``eval.metric``, a name in
            :data:`~fasterrcnn.evaluation.metrics.METRICS` (an optional
            package it needs, such as COCO's pycocotools, is checked here),
            or None: ``use_07_metric`` decides between ``'voc07'`` and
            ``'voc'``.
    """

    trigger = 1, 'epoch'
    default_name = 'validation'

    def __init__(self, iterator, target, use_07_metric=False,
                 label_names=None, comm=None, report_all_names=False,
                 metric=None):
        super(DetectionEvaluator, self).__init__(
            {} if iterator is None else iterator, target)
        self.use_07_metric = use_07_metric
        self.label_names = label_names
        self.comm = comm
        self.report_all_names = report_all_names
        self.metric = resolve_metric(metric, use_07_metric)
        # Now rather than at the first evaluation, hours into a run.
        self.metric.require()

    def evaluate(self):
        target = self._targets['main']
        if self.comm is not None and self.comm.rank != 0:
            predict_distributed(target, None, self.comm)
            return {}
        iterator = self._iterators['main']
        iterator.reset()
        examples = (example for batch in iterator for example in batch)
        if self.comm is None:
            preds, gts = predict_examples(target, examples,
                                          batch_size=iterator.batch_size)
        else:
            preds, gts = predict_distributed(target, examples, self.comm,
                                             batch_size=iterator.batch_size)
        n_fg_class = len(self.label_names) if self.label_names else None
        result = self.metric.compute(preds, gts, n_fg_class)
        values = {self.metric.name + '/' + key: result[key]
                  for key, _ in self.metric.numbers[1:]}
        values['map'] = result['map']
        values.update(self._ap_observations(result['ap']))
        observation = {}
        # Reported with the target as observer, so that the keys get the
        # target's prefix (e.g. 'validation/main/').
        with reporter.report_scope(observation):
            reporter.report(values, target)
        return observation

    def _ap_observations(self, ap):
        """``{'ap/<name>': value}`` for the classes to report.

        Args:
            ap (numpy.ndarray): ``(L,)`` float64 AP of labels ``0 .. L - 1``
                (NaN: undefined).
        """
        if self.report_all_names:
            names = self.label_names or ()
            return {'ap/' + name: ap[lab] if lab < len(ap) else numpy.nan
                    for lab, name in enumerate(names)}
        values = {}
        for lab, value in enumerate(ap):
            if numpy.isnan(value):
                continue
            if self.label_names is not None and lab < len(self.label_names):
                name = self.label_names[lab]
            else:
                name = str(lab)
            values['ap/' + name] = value
        return values
