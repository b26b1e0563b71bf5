"""A Trainer extension that reports the PASCAL VOC metric of a detector."""

import numpy
from chainer import reporter
from chainer.training import extensions

from fasterrcnn.evaluation.run import predict_examples
from fasterrcnn.evaluation.voc import eval_detection_voc


class DetectionVOCEvaluator(extensions.Evaluator):
    """Runs a detector over a data set and reports VOC mAP and AP per class.

    In a :class:`chainer.training.Trainer` (default name ``'validation'``)
    the values appear as ``validation/main/map`` and
    ``validation/main/ap/<label name>``. Classes whose AP is NaN (no
    non-difficult ground truth in the data) are not reported.

    Args:
        iterator (chainer.dataset.Iterator): a non-repeating iterator over
            examples ``(img, bbox, label)`` or ``(img, bbox, label,
            difficult)``: ``(3, H, W)`` float32 RGB in ``[0, 255]``,
            ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)`` pixels,
            ``(R,)`` int32, ``(R,)`` bool. It is reset before each run.
        target (chainer.Link): has ``predict(imgs)`` taking a list of such
            images and returning ``(bboxes, labels, scores)``, lists with one
            ``(R, 4)`` float32, ``(R,)`` int32 and ``(R,)`` float32 array
            per image (boxes in the pixels of the image given).
        use_07_metric (bool): the VOC2007 11-point AP.
        label_names (sequence of str): names for the ``ap/<name>`` keys;
            None uses the label numbers.
    """

    trigger = 1, 'epoch'
    default_name = 'validation'

    def __init__(self, iterator, target, use_07_metric=False,
                 label_names=None):
        super(DetectionVOCEvaluator, self).__init__(iterator, target)
        self.use_07_metric = use_07_metric
        self.label_names = label_names

    def evaluate(self):
        iterator = self._iterators['main']
        target = self._targets['main']
        iterator.reset()

        (pred_bboxes, pred_labels, pred_scores), gts = predict_examples(
            target, (example for batch in iterator for example in batch))
        result = eval_detection_voc(
            pred_bboxes, pred_labels, pred_scores, *gts,
            use_07_metric=self.use_07_metric)

        values = {'map': result['map']}
        for lab, ap in enumerate(result['ap']):
            if numpy.isnan(ap):
                continue
            if self.label_names is not None and lab < len(self.label_names):
                name = self.label_names[lab]
            else:
                name = str(lab)
            values['ap/' + name] = ap
        observation = {}
        # Reported with the target as observer, so that the keys get the
        # target's prefix (e.g. 'validation/main/').
        with reporter.report_scope(observation):
            reporter.report(values, target)
        return observation
