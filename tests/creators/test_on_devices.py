"""The creators on each device (the ``device`` fixture): results on the
device of their inputs, equal to the NumPy run's; the draws use a host
RandomState wherever the arrays are."""

import chainer
import numpy

from fasterrcnn.creators import (AnchorTargetCreator, ProposalCreator,
                                 ProposalTargetCreator)

ANCHOR = numpy.array([[y, x, y + 16, x + 16] for y in range(0, 64, 8)
                      for x in range(0, 64, 8)], numpy.float32)
BBOX = numpy.array([[4, 4, 20, 24], [30, 36, 60, 62]], numpy.float32)
LABEL = numpy.array([0, 2], numpy.int32)


def host(array):
    return chainer.get_device('@numpy').send(array)


def test_anchor_targets(device):
    loc, label = AnchorTargetCreator(n_sample=32)(
        device.send(BBOX), device.send(ANCHOR), (64, 64),
        numpy.random.RandomState(0))
    assert isinstance(label, device.xp.ndarray)
    ref_loc, ref_label = AnchorTargetCreator(n_sample=32)(
        BBOX, ANCHOR, (64, 64), numpy.random.RandomState(0))
    numpy.testing.assert_array_equal(host(label), ref_label)
    numpy.testing.assert_allclose(host(loc), ref_loc, rtol=1e-6, atol=1e-6)
    assert (ref_label == 1).sum() >= 2  # each box has its best anchor


def test_proposal_targets(device):
    roi = ANCHOR[::3]
    sample, loc, label = ProposalTargetCreator(n_sample=16)(
        device.send(roi), device.send(BBOX), device.send(LABEL),
        numpy.random.RandomState(1))
    assert isinstance(sample, device.xp.ndarray)
    ref = ProposalTargetCreator(n_sample=16)(
        roi, BBOX, LABEL, numpy.random.RandomState(1))
    numpy.testing.assert_array_equal(host(sample), ref[0])
    numpy.testing.assert_allclose(host(loc), ref[1], rtol=1e-6, atol=1e-6)
    numpy.testing.assert_array_equal(host(label), ref[2])
    assert set(ref[2].tolist()) >= {0, 1, 3}  # background and both classes


def test_proposals(device):
    rng = numpy.random.RandomState(2)
    loc = rng.normal(0, 0.1, ANCHOR.shape).astype(numpy.float32)
    score = rng.uniform(0, 1, len(ANCHOR)).astype(numpy.float32)
    creator = ProposalCreator(n_test_pre_nms=40, n_test_post_nms=10)
    with chainer.using_config('train', False):
        roi = creator(device.send(loc), device.send(score),
                      device.send(ANCHOR), (64, 64))
        ref = creator(loc, score, ANCHOR, (64, 64))
    assert isinstance(roi, device.xp.ndarray)
    assert 0 < len(ref) <= 10
    numpy.testing.assert_allclose(host(roi), ref, rtol=1e-5, atol=1e-4)
