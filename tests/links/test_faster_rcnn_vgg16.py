"""Faster R-CNN VGG16 as the PyTorch version configures it
(fasterrcnn/links/backbones/vgg16.py)."""

import pytest

from fasterrcnn.links import FasterRCNNVGG16
from tests.support.dummy_model import assert_is_detection_link, tiny_model


def test_initialisation_of_the_outputs():
    model = FasterRCNNVGG16(20, extractor_channels=(4, 4, 8, 8, 64),
                            fc_size=512)
    assert model.n_class == 21
    assert model.rpn.score.W.shape == (18, 64, 1, 1)
    assert abs(float(model.rpn.score.W.array.std()) - 0.01) < 0.002
    assert abs(float(model.head.cls_loc.W.array.std()) - 0.001) < 0.0002
    assert abs(float(model.head.score.W.array.std()) - 0.01) < 0.002
    assert (model.head.score.b.array == 0).all()


@pytest.mark.parametrize('n_fg_class', [1, 3, 20])
def test_is_a_detection_link(n_fg_class):
    model = tiny_model(n_fg_class)
    model.use_preset('evaluate')
    model.score_thresh = 0.
    assert_is_detection_link(model, n_fg_class)


def test_at_least_one_class():
    with pytest.raises(ValueError, match='n_fg_class'):
        tiny_model(0)
