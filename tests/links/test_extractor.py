"""The extractor contract (fasterrcnn/links/extractor.py) and the backbone
table (fasterrcnn/links/backbones/): a plain ``extractor(x)`` works, the
stride comes from the extractor, a model file names its backbone."""

import json

import chainer
import numpy
import pytest

from fasterrcnn.config import default_config
from fasterrcnn.config_keys import KEYS_BY_NAME
from fasterrcnn.links import extractor as contract
from fasterrcnn.links.backbones import BACKBONES, backbone
from fasterrcnn.links.faster_rcnn import FasterRCNN
from fasterrcnn.weights.model_io import (META_KEY, load_model, read_model_info,
                                         save_model)
from tests.support.dummy_model import random_image, tiny_model


class PlainExtractor(chainer.Chain):
    """Only ``extractor(x)``: the VGG16 of a tiny model behind chainercv's
    one-argument contract (no stride, no padded batches)."""

    def __init__(self, vgg):
        super(PlainExtractor, self).__init__()
        with self.init_scope():
            self.vgg = vgg

    def forward(self, x):
        return self.vgg(x)


def plain_model(model):
    """The tiny model's own links, its extractor seen through
    :class:`PlainExtractor`."""
    return FasterRCNN(PlainExtractor(model.extractor), model.rpn, model.head,
                      min_size=model.min_size, max_size=model.max_size)


def test_a_plain_extractor_predicts_each_image_as_alone():
    model = tiny_model()
    plain = plain_model(model)
    rng = numpy.random.RandomState(0)
    imgs = [random_image(rng, 60, 80), random_image(rng, 90, 50)]
    model.use_preset('evaluate')
    plain.use_preset('evaluate')
    got = plain.predict(imgs)
    for i, img in enumerate(imgs):
        alone = model.predict([img])
        for k in range(3):
            numpy.testing.assert_array_equal(got[k][i], alone[k][0])
    assert sum(len(b) for b in got[0]) > 0


def test_a_padded_batch_needs_output_sizes():
    plain = plain_model(tiny_model())
    x = numpy.zeros((2, 3, 64, 64), numpy.float32)
    with pytest.raises(ValueError, match='output_sizes'):
        plain.propose(x, 1., numpy.array([[64, 64], [48, 64]]))


def test_the_stride_is_the_extractors_then_the_rpns():
    model = tiny_model()
    assert model.feat_stride == model.extractor.feat_stride == 16
    plain = plain_model(model)
    model.rpn.feat_stride = 8  # read only when the extractor has none
    assert plain.feat_stride == 8
    assert contract.feat_stride(object(), object()) is None
    contract.check_input_size((4, 4), None)  # no stride: no check
    with pytest.raises(ValueError, match='at least 16'):
        contract.check_input_size((15, 64), 16)


def test_frozen_links_of_an_extractor_without_them():
    assert contract.frozen_links(PlainExtractor(tiny_model().extractor)) == []
    frozen = contract.frozen_links(tiny_model(freeze_conv12=True).extractor)
    assert len(frozen) == 4


def test_every_backbone_is_a_config_value_and_rebuilds_from_its_file(
        tmp_path):
    key = KEYS_BY_NAME['model.backbone']
    assert set(key.type.__args__) == set(BACKBONES)
    assert default_config().model.backbone in BACKBONES
    for name, cls in BACKBONES.items():
        assert cls.arch == name
        assert backbone(name) is cls
    path = str(tmp_path / 'm.npz')
    model = tiny_model()
    save_model(model, path)
    assert read_model_info(path)['arch'] == 'vgg16'
    loaded, _ = load_model(path)
    assert type(loaded) is type(model)


def test_an_unknown_backbone_is_named():
    with pytest.raises(ValueError, match="'resnet9'.*vgg16"):
        backbone('resnet9')


def test_a_model_file_without_arch_is_vgg16(tmp_path):
    # Files written before the backbone table record no arch.
    path = str(tmp_path / 'old.npz')
    save_model(tiny_model(), path)
    with numpy.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays[META_KEY]))
    del meta['arch']
    arrays[META_KEY] = numpy.array(json.dumps(meta))
    numpy.savez(path, **arrays)
    loaded, _ = load_model(path)
    assert loaded.arch == 'vgg16'
