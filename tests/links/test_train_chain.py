"""Faster R-CNN with its targets and losses (links/train_chain.py)."""

import chainer
import numpy
import pytest

from fasterrcnn.links import FasterRCNNTrainChain
from tests.dummy_model import tiny_model


def train_example(rng):
    img = rng.uniform(-1, 1, (1, 3, 64, 96)).astype(numpy.float32)
    bbox = numpy.array([[[10, 10, 40, 50], [20, 40, 60, 90]]], numpy.float32)
    label = numpy.array([[0, 2]], numpy.int32)
    return img, bbox, label


def test_train_chain_reports_the_losses_and_is_reproducible():
    rng = numpy.random.RandomState(0)
    img, bbox, label = train_example(rng)
    results = []
    for _ in range(2):
        chain = FasterRCNNTrainChain(tiny_model(), random_state=3)
        reporter = chainer.Reporter()
        reporter.add_observer('main', chain)
        observation = {}
        with reporter.scope(observation):
            loss = chain(img, bbox, label, numpy.array([1.0]))
        results.append((observation, float(loss.array)))
    observation = results[0][0]
    for key in ('rpn_loc_loss', 'rpn_cls_loss', 'roi_loc_loss',
                'roi_cls_loss', 'loss'):
        assert 'main/' + key in observation
        assert numpy.isfinite(float(observation['main/' + key].array))
    assert results[0][1] == results[1][1]


def test_train_chain_without_ground_truth():
    rng = numpy.random.RandomState(1)
    img, _, _ = train_example(rng)
    chain = FasterRCNNTrainChain(tiny_model(), random_state=0)
    chain.cleargrads()
    loss = chain(img, numpy.zeros((1, 0, 4), numpy.float32),
                 numpy.zeros((1, 0), numpy.int32), 1.0)
    assert numpy.isfinite(float(loss.array))
    loss.backward()
    assert numpy.isfinite(chain.faster_rcnn.head.score.W.grad).all()


def test_train_chain_takes_one_image():
    rng = numpy.random.RandomState(2)
    img, bbox, label = train_example(rng)
    chain = FasterRCNNTrainChain(tiny_model())
    with pytest.raises(ValueError, match='one image'):
        chain(numpy.concatenate([img, img]), bbox, label, 1.0)
