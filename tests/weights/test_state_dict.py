"""PyTorch-named weights <-> Chainer (fasterrcnn/weights/state_dict.py)."""

import numpy
import pytest

from fasterrcnn.interop.golden import golden_state_dict
from fasterrcnn.weights.state_dict import export_state_dict, load_state_dict
from tests.support.dummy_model import tiny_model


def test_names_order_and_round_trip():
    model = tiny_model(2)
    state = export_state_dict(model)
    names = list(state)
    assert len(names) == 40
    assert names[:4] == ['extractor.0.weight', 'extractor.0.bias',
                         'extractor.2.weight', 'extractor.2.bias']
    assert names[-2:] == ['head.score.weight', 'head.score.bias']
    assert state['extractor.28.weight'].shape == (8, 8, 3, 3)
    assert state['head.classifier.0.weight'].shape == (16, 8 * 7 * 7)
    assert state['rpn.score.weight'].shape == (18, 8, 1, 1)
    other = tiny_model(2)
    rng = numpy.random.RandomState(0)
    state = {k: rng.randn(*v.shape).astype(numpy.float32)
             for k, v in state.items()}
    load_state_dict(other, state)
    again = export_state_dict(other)
    for name in state:
        numpy.testing.assert_array_equal(again[name], state[name])
    numpy.testing.assert_array_equal(other.head.fc7.W.array,
                                     state['head.classifier.2.weight'])
    numpy.testing.assert_array_equal(other.extractor.conv3_1.b.array,
                                     state['extractor.10.bias'])


def test_errors_name_the_parameter():
    model = tiny_model(2)
    state = export_state_dict(model)
    bad = dict(state)
    bad['rpn.loc.weight'] = numpy.zeros((1, 2), numpy.float32)
    with pytest.raises(ValueError, match='rpn.loc.weight'):
        load_state_dict(model, bad)
    missing = dict(state)
    del missing['head.score.bias']
    with pytest.raises(KeyError, match='head.score.bias'):
        load_state_dict(model, missing)
    extra = dict(state)
    extra['head.extra.weight'] = numpy.zeros(1, numpy.float32)
    with pytest.raises(KeyError, match='head.extra.weight'):
        load_state_dict(model, extra)
    load_state_dict(model, missing, strict=False)


def test_golden_recipe_follows_the_readme():
    names = numpy.array(['a.weight', 'a.bias', 'rpn.loc.weight'])
    golden = {'seed': numpy.array(5), 'param_names': names,
              'param_shapes': numpy.array(['(3, 2, 1, 1)', '(3,)',
                                           '(4, 2, 1, 1)']),
              'std_override_names': numpy.array(['rpn.loc.weight']),
              'std_override_values': numpy.array([0.5])}
    state = golden_state_dict(golden)
    rng = numpy.random.RandomState(5)
    numpy.testing.assert_array_equal(
        state['a.weight'],
        (rng.standard_normal((3, 2, 1, 1)) * numpy.sqrt(2 / 2)).astype(
            numpy.float32))
    numpy.testing.assert_array_equal(
        state['a.bias'], (rng.standard_normal((3,)) * 0.01).astype(
            numpy.float32))
    numpy.testing.assert_array_equal(
        state['rpn.loc.weight'],
        (rng.standard_normal((4, 2, 1, 1)) * 0.5).astype(numpy.float32))
