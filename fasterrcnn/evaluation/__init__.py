"""Evaluation: the metrics (one table, ``metrics.py``; the VOC metric in
``voc.py``, COCO's in ``coco.py``), the Trainer's evaluator, one evaluation
run (``evaluate.py``), its report, and prediction split over ChainerMN
processes."""

from fasterrcnn.evaluation.evaluator import DetectionEvaluator  # noqa: F401
from fasterrcnn.evaluation.voc import calc_detection_voc_ap  # noqa: F401
from fasterrcnn.evaluation.voc import calc_detection_voc_prec_rec  # noqa: F401
from fasterrcnn.evaluation.voc import eval_detection_voc  # noqa: F401
