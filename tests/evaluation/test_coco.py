"""The COCO metric through pycocotools: the numbers, crowd (difficult)
objects ignored, the evaluator's keys, the JSON record, and the one-line
error without pycocotools."""

import sys

import numpy
import pytest

from fasterrcnn.evaluation import coco as coco_metric
from fasterrcnn.evaluation.coco import (MissingDependencyError,
                                        eval_detection_coco)
from fasterrcnn.evaluation.evaluator import DetectionEvaluator
from fasterrcnn.evaluation.metrics import METRICS, resolve_metric
from fasterrcnn.evaluation.report import format_section, result_record
from tests.evaluation.test_evaluator import (LABEL_NAMES, FakeDetector,
                                             iterator, make_dataset)

pytest.importorskip('pycocotools')


def f32(values):
    return numpy.asarray(values, dtype=numpy.float32).reshape(-1, 4)


def i32(values):
    return numpy.asarray(values, dtype=numpy.int32)


#: One image: a 40 x 40 object of class 0 (medium: 1600 > 32^2 pixels) and
#: a 20 x 20 one of class 1 (small).
GT_BBOX = [f32([[10, 10, 49, 49], [60, 60, 79, 79]])]
GT_LABEL = [i32([0, 1])]


def test_exact_predictions_score_one():
    result = eval_detection_coco(GT_BBOX, GT_LABEL, [numpy.ones(2)],
                                 GT_BBOX, GT_LABEL, n_fg_class=3)
    for key in ('map', 'ap50', 'ap75', 'ap_small', 'ap_medium'):
        assert result[key] == pytest.approx(1.0), key
    assert numpy.isnan(result['ap_large'])   # no large object
    numpy.testing.assert_allclose(result['ap'][:2], 1.0)
    assert numpy.isnan(result['ap'][2])      # no ground truth of class 2


def test_iou_thresholds_count_inclusive_pixels():
    # Shifted by 8 rows: IoU (32 * 40) / (48 * 40) = 2/3 with the pixels
    # counted inclusively (a 40 x 40 box is rows 10 .. 49): a match at 0.5
    # and 0.65, not at 0.7 and above.
    pred = [f32([[18, 10, 57, 49], [60, 60, 79, 79]])]
    result = eval_detection_coco(pred, GT_LABEL, [numpy.ones(2)],
                                 GT_BBOX, GT_LABEL)
    assert result['ap50'] == pytest.approx(1.0)
    assert result['ap75'] == pytest.approx(0.5)   # class 1 only
    # Class 0 matches at 0.50, 0.55, 0.60 and 0.65: 4 of the 10 thresholds.
    assert result['ap'][0] == pytest.approx(0.4)
    assert result['map'] == pytest.approx((0.4 + 1.0) / 2)


def test_difficult_objects_are_ignored():
    difficult = [numpy.array([False, True])]
    # The detection of the difficult object is neither a true nor a false
    # positive, and the object is no positive: class 1 has no AP.
    both = eval_detection_coco(GT_BBOX, GT_LABEL, [numpy.ones(2)], GT_BBOX,
                               GT_LABEL, difficult, n_fg_class=2)
    assert both['map'] == pytest.approx(1.0)
    assert numpy.isnan(both['ap'][1])
    first = eval_detection_coco([GT_BBOX[0][:1]], [GT_LABEL[0][:1]],
                                [numpy.ones(1)], GT_BBOX, GT_LABEL,
                                difficult, n_fg_class=2)
    assert first['map'] == pytest.approx(1.0)


def test_no_predictions_and_label_checks():
    result = eval_detection_coco([f32([])], [i32([])], [numpy.zeros(0)],
                                 GT_BBOX, GT_LABEL, n_fg_class=2)
    assert result['map'] == 0.0
    with pytest.raises(ValueError, match='label 1 occurs .* only 1 classes'):
        eval_detection_coco(GT_BBOX, GT_LABEL, [numpy.ones(2)], GT_BBOX,
                            GT_LABEL, n_fg_class=1)
    with pytest.raises(ValueError, match='one entry per image'):
        eval_detection_coco(GT_BBOX * 2, GT_LABEL, [numpy.ones(2)], GT_BBOX,
                            GT_LABEL)


def test_evaluator_reports_coco_names():
    dataset = make_dataset(with_difficult=True)
    evaluator = DetectionEvaluator(iterator(dataset),
                                   FakeDetector(dataset),
                                   label_names=LABEL_NAMES, metric='coco')
    result = evaluator()
    assert set(result) == {'main/map', 'main/ap/cat', 'main/ap/dog',
                           'main/coco/ap50', 'main/coco/ap75',
                           'main/coco/ap_small', 'main/coco/ap_medium',
                           'main/coco/ap_large'}
    assert result['main/map'] == pytest.approx(1.0)
    assert result['main/coco/ap50'] == pytest.approx(1.0)
    # The VOC metrics as before.
    for metric, use_07 in (('voc07', False), ('voc', True), (None, True)):
        evaluator = DetectionEvaluator(
            iterator(dataset), FakeDetector(dataset, shift=1.0),
            use_07_metric=use_07, label_names=LABEL_NAMES, metric=metric)
        assert set(evaluator()) == {'main/map', 'main/ap/cat',
                                    'main/ap/dog'}


def test_resolve_metric():
    assert resolve_metric(None, True) is METRICS['voc07']
    assert resolve_metric(None, False) is METRICS['voc']
    assert resolve_metric('voc', True) is METRICS['voc']
    assert resolve_metric('voc07', False) is METRICS['voc07']
    assert resolve_metric('coco', True) is METRICS['coco']
    with pytest.raises(ValueError):
        resolve_metric('map', True)
    with pytest.raises(ValueError):
        resolve_metric('area', True)   # one name per metric


def test_record_and_table():
    coco = eval_detection_coco(GT_BBOX, GT_LABEL, [numpy.ones(2)],
                               GT_BBOX, GT_LABEL, n_fg_class=3)
    nan = numpy.full(3, numpy.nan)
    result = {'n_images': 1, 'seconds': 1.0, 'images_per_second': 1.0,
              'metrics': {'voc07': {'ap': nan, 'map': 0.5},
                          'voc': {'ap': nan, 'map': 0.25}, 'coco': coco}}
    names = ['a', 'b', 'c']
    record = result_record(result, 'm.npz', '.', 'test', 1, names, True,
                           'cpu', metric='coco')
    assert record['metric'] == 'coco'
    assert record['map'] == pytest.approx(1.0)
    assert record['map_voc07'] == 0.5
    assert record['coco']['ap_large'] is None
    assert record['coco']['ap'] == {'a': pytest.approx(1.0),
                                    'b': pytest.approx(1.0), 'c': None}
    old = result_record(result, 'm.npz', '.', 'test', 1, names, False,
                        'cpu')
    assert old['metric'] == 'voc' and old['map'] == 0.25
    table = format_section(METRICS['coco'], coco, names)
    assert 'AP@[.5:.95]' in table and 'AP large' in table
    assert 'n/a' in table


def test_missing_pycocotools_is_one_line(monkeypatch):
    # A None entry makes the import fail, as when it is not installed.
    monkeypatch.setitem(sys.modules, 'pycocotools', None)
    monkeypatch.setitem(sys.modules, 'pycocotools.coco', None)
    monkeypatch.setitem(sys.modules, 'pycocotools.cocoeval', None)
    with pytest.raises(MissingDependencyError) as e:
        eval_detection_coco(GT_BBOX, GT_LABEL, [numpy.ones(2)], GT_BBOX,
                            GT_LABEL)
    message = str(e.value)
    assert message == ('eval.metric coco needs pycocotools, which is not '
                       'installed: ' + coco_metric.INSTALL_HINT)
    assert 'pip install ".[coco]"' in message
    # The Trainer's evaluator says so when it is made, not hours later.
    with pytest.raises(MissingDependencyError):
        DetectionEvaluator(None, FakeDetector([]), metric='coco')
