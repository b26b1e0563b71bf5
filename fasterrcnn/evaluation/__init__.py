"""Evaluation: the PASCAL VOC metric and the Trainer extension that reports
it."""

from fasterrcnn.evaluation.evaluator import DetectionVOCEvaluator  # noqa: F401
from fasterrcnn.evaluation.voc import calc_detection_voc_ap  # noqa: F401
from fasterrcnn.evaluation.voc import calc_detection_voc_prec_rec  # noqa: F401
from fasterrcnn.evaluation.voc import eval_detection_voc  # noqa: F401
