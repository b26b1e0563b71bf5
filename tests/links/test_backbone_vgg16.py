"""VGG16 extractor and RoI head (fasterrcnn/links/backbones/vgg16.py)."""

import chainer
import numpy
import pytest

from fasterrcnn.links.backbones.vgg16 import VGG16
from tests.support.dummy_model import tiny_model


@pytest.mark.parametrize('size,expected', [((64, 80), (4, 5)),
                                           ((47, 95), (2, 5)),
                                           ((16, 31), (1, 1))])
def test_extractor_floors_at_each_pooling(size, expected):
    extractor = VGG16((4, 4, 4, 4, 4))
    x = numpy.zeros((1, 3) + size, numpy.float32)
    assert extractor(x).shape == (1, 4) + expected


def test_frozen_conv12_get_no_gradient_nor_update():
    extractor = VGG16((4, 4, 4, 4, 4), freeze_conv12=True)
    x = numpy.random.RandomState(0).randn(1, 3, 32, 32).astype(numpy.float32)
    extractor.cleargrads()
    chainer.functions.sum(extractor(x)).backward()
    frozen = extractor.frozen_links()
    assert frozen == [extractor.conv1_1, extractor.conv1_2, extractor.conv2_1,
                      extractor.conv2_2]
    for link in frozen:
        assert link.W.grad is None and link.b.grad is None
    assert extractor.conv3_1.W.grad is not None
    optimizer = chainer.optimizers.MomentumSGD(lr=0.1)
    optimizer.setup(extractor)
    optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(0.1))
    for link in frozen:
        link.disable_update()
    before = extractor.conv1_1.W.array.copy()
    optimizer.update()
    numpy.testing.assert_array_equal(extractor.conv1_1.W.array, before)
    assert not extractor.conv1_1.update_enabled
    assert extractor.conv3_1.update_enabled
    unfrozen = VGG16((4, 4, 4, 4, 4), freeze_conv12=False)
    unfrozen.cleargrads()
    chainer.functions.sum(unfrozen(x)).backward()
    assert unfrozen.conv1_1.W.grad is not None


def test_head_output_shapes():
    model = tiny_model()
    h = model.extractor(numpy.zeros((1, 3, 64, 64), numpy.float32))
    rois = numpy.array([[0, 0, 32, 32], [8, 16, 64, 48]], numpy.float32)
    cls_loc, score = model.head(h, rois, numpy.zeros(2, numpy.int32))
    assert cls_loc.shape == (2, 16) and score.shape == (2, 4)
    assert cls_loc.dtype == score.dtype == numpy.float32


def test_head_with_no_roi():
    model = tiny_model()
    h = model.extractor(numpy.zeros((1, 3, 32, 32), numpy.float32))
    cls_loc, score = model.head(h, numpy.zeros((0, 4), numpy.float32),
                                numpy.zeros((0,), numpy.int32))
    assert cls_loc.shape == (0, 16) and score.shape == (0, 4)
