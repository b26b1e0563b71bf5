"""The metric table (fasterrcnn/evaluation/metrics.py): the configuration
allows exactly its names, each entry keeps the protocol, and the Trainer's
evaluator, the evaluation run and its report give every one of them."""

import typing

import numpy
import pytest

from fasterrcnn.config_keys import KEYS_BY_NAME
from fasterrcnn.evaluation.coco import MissingDependencyError
from fasterrcnn.evaluation.evaluate import evaluate
from fasterrcnn.evaluation.evaluator import DetectionEvaluator
from fasterrcnn.evaluation.metrics import METRICS, metrics_with
from fasterrcnn.evaluation.report import (format_sections, format_table,
                                          result_record)
from tests.evaluation import test_evaluate, test_evaluator

NAMES = list(METRICS)


def usable(name):
    """The entry ``name``, or a skip when an optional package it needs is
    not installed (COCO's pycocotools)."""
    metric = METRICS[name]
    try:
        metric.require()
    except MissingDependencyError as e:
        pytest.skip(str(e))
    return metric


def test_the_config_allows_exactly_the_names_of_the_table():
    key = KEYS_BY_NAME['eval.metric']
    members = [arg for arg in typing.get_args(key.type)
               if arg is not type(None)]
    assert key.nullable and len(members) == 1
    assert typing.get_origin(members[0]) is typing.Literal
    # Every allowed value is an entry and every entry allowed, in order.
    assert typing.get_args(members[0]) == tuple(METRICS)


@pytest.mark.parametrize('name', NAMES)
def test_each_entry_keeps_the_protocol(name):
    metric = METRICS[name]
    assert metric.name == name
    assert isinstance(metric.title, str) and metric.title
    assert isinstance(metric.description, str) and metric.description
    assert isinstance(metric.in_table, bool)
    keys = [key for key, _ in metric.numbers]
    assert keys[0] == 'map' and 'ap' not in keys
    assert len(set(keys)) == len(keys)
    assert all(isinstance(title, str) for _, title in metric.numbers)
    assert callable(metric.require) and callable(metric.compute)


def test_the_table_holds_both_voc_metrics_and_coco_outside_it():
    assert [m.name for m in METRICS.values() if m.in_table] == \
        ['voc07', 'voc']
    assert [m.name for m in metrics_with(METRICS['coco'])] == \
        ['voc07', 'voc', 'coco']
    assert [m.name for m in metrics_with(METRICS['voc'])] == \
        ['voc07', 'voc']


def boxes(rows):
    return numpy.asarray(rows, numpy.float32).reshape(-1, 4)


#: Two images of three classes (class 2 never occurs); predictions equal
#: to the truth.
GT = ([boxes([[10, 10, 49, 49]]), boxes([[5, 5, 30, 40], [60, 60, 79, 79]])],
      [numpy.array([0], numpy.int32), numpy.array([1, 0], numpy.int32)],
      [numpy.zeros(1, bool), numpy.zeros(2, bool)])
PRED = (GT[0], GT[1], [numpy.ones(1, numpy.float32),
                       numpy.ones(2, numpy.float32)])


@pytest.mark.parametrize('name', NAMES)
def test_compute_gives_map_ap_and_the_entrys_numbers(name):
    metric = usable(name)
    values = metric.compute(PRED, GT, 3)
    assert {key for key, _ in metric.numbers} | {'ap'} <= set(values)
    assert values['map'] == pytest.approx(1.0)
    assert values['ap'].shape == (3,) and values['ap'].dtype == numpy.float64
    numpy.testing.assert_allclose(values['ap'][:2], 1.0)
    assert numpy.isnan(values['ap'][2])     # no ground truth of class 2
    # None: as many classes as the labels seen.
    assert metric.compute(PRED, GT, None)['ap'].shape == (2,)
    with pytest.raises(ValueError, match='only 1 classes'):
        metric.compute(PRED, GT, 1)


@pytest.mark.parametrize('name', NAMES)
def test_the_evaluator_reports_each(name):
    metric = usable(name)
    dataset = test_evaluator.make_dataset(with_difficult=True)
    evaluator = DetectionEvaluator(
        test_evaluator.iterator(dataset),
        test_evaluator.FakeDetector(dataset),
        label_names=test_evaluator.LABEL_NAMES, metric=name)
    result = evaluator()
    assert set(result) == {'main/map', 'main/ap/cat', 'main/ap/dog'} | {
        'main/{}/{}'.format(name, key) for key, _ in metric.numbers[1:]}
    assert result['main/map'] == pytest.approx(1.0)


@pytest.mark.parametrize('name', NAMES)
def test_the_evaluation_and_its_report_give_each(name):
    metric = usable(name)
    dataset = test_evaluate.make_dataset()
    result = evaluate(test_evaluate.FakeModel(dataset), dataset,
                      progress=False, metrics=metrics_with(metric))
    assert set(result['metrics']) == {m.name for m in metrics_with(metric)}
    assert result['metrics'][name]['map'] == pytest.approx(1.0)
    names = test_evaluate.LABEL_NAMES
    record = result_record(result, 'm.npz', '.', 'test', 4, names, True,
                           'cpu', metric=name)
    assert record['metric'] == name
    assert record['map'] == pytest.approx(1.0)
    table = format_table(result, names)
    sections = format_sections(result, names)
    if metric.in_table:
        assert record['map_' + name] == record['map']
        assert list(record['ap_' + name]) == list(names)
        assert 'AP ' + metric.title in table.splitlines()[0]
        assert sections == []
    else:
        assert set(record[name]) == {key for key, _ in metric.numbers} | \
            {'ap'}
        assert record[name]['map'] == record['map']
        assert record[name]['ap']['bird'] is None   # no ground truth
        assert metric.title not in table
        assert len(sections) == 1
        assert sections[0].startswith(metric.description)
