"""chainercv's pretrained weights: where they are looked for, what a missing
one says, and chainercv's ImageNet VGG16 names."""

import os

import numpy
import pytest

from fasterrcnn.chainercv.links import FasterRCNNVGG16
from fasterrcnn.chainercv.pretrained import (FASTER_RCNN_VGG16_MODELS,
                                             VGG16_IMAGENET_URL, resolve)
from fasterrcnn.links.backbones import vgg16
from fasterrcnn.links.backbones.vgg16 import conv_names
from fasterrcnn.links.faster_rcnn import FasterRCNN
from fasterrcnn.links.rpn import RegionProposalNetwork
from fasterrcnn.safe_npz import BadFileError
from fasterrcnn.weights.imagenet import load_vgg16_imagenet
from tests.support.hostile import (assert_payload_is_live, assert_refused,
                                   hostile_npz)
from tests.support.loopback import Loopback


def models_dir(root):
    return os.path.join(str(root), 'pfnet', 'chainercv', 'models')


def test_named_model_missing_says_what_to_fetch_and_where(dataset_root):
    with pytest.raises(FileNotFoundError) as info:
        FasterRCNNVGG16(pretrained_model='voc07')
    message = str(info.value)
    assert '\n' not in message
    assert FASTER_RCNN_VGG16_MODELS['voc07']['url'] in message
    assert os.path.join(models_dir(dataset_root),
                        'faster_rcnn_vgg16_voc07_trained_2018_06_01.npz') \
        in message
    with pytest.raises(FileNotFoundError, match='vgg16_imagenet_converted'):
        FasterRCNNVGG16(n_fg_class=3, pretrained_model='imagenet')


def stand_in_npz(path):
    """A small complete NumPy archive where a chainercv file belongs (the
    check of a file chainercv publishes no checksum for)."""
    with open(path, 'wb') as f:
        numpy.savez(f, w=numpy.zeros(3, numpy.float32))


def test_named_model_found_in_chainercv_folder(dataset_root):
    os.makedirs(models_dir(dataset_root))
    path = os.path.join(models_dir(dataset_root),
                        os.path.basename(VGG16_IMAGENET_URL))
    stand_in_npz(path)
    assert resolve(5, 'imagenet', FASTER_RCNN_VGG16_MODELS) == \
        (5, 'imagenet', path)
    name = os.path.basename(FASTER_RCNN_VGG16_MODELS['voc0712']['url'])
    stand_in_npz(os.path.join(models_dir(dataset_root), name))
    n_fg_class, kind, found = resolve(None, 'voc0712',
                                      FASTER_RCNN_VGG16_MODELS)
    assert (n_fg_class, kind) == (20, 'model') and found.endswith(name)


def test_a_missing_named_model_is_fetched_into_chainercvs_folder(
        dataset_root, monkeypatch, tmp_path):
    name = os.path.basename(VGG16_IMAGENET_URL)
    served = tmp_path / 'served.npz'
    numpy.savez(str(served), w=numpy.ones(2, numpy.float32))
    monkeypatch.delenv('FASTERRCNN_OFFLINE')
    monkeypatch.setenv('FASTERRCNN_HOME', str(tmp_path / 'own'))
    with Loopback({name: served.read_bytes()}) as server:
        monkeypatch.setenv('FASTERRCNN_MIRROR', server.base)
        assert resolve(5, 'imagenet', FASTER_RCNN_VGG16_MODELS) == \
            (5, 'imagenet', os.path.join(models_dir(dataset_root), name))
        # A damaged copy is fetched again.
        with open(os.path.join(models_dir(dataset_root), name), 'wb') as f:
            f.write(b'cut short')
        resolve(5, 'imagenet', FASTER_RCNN_VGG16_MODELS)
    assert server.requests == [name, name]


def test_class_count_must_match_the_named_model(dataset_root):
    with pytest.raises(ValueError, match='n_fg_class must be 20'):
        FasterRCNNVGG16(n_fg_class=3, pretrained_model='voc07')


def test_path_that_is_not_there(tmp_path):
    with pytest.raises(FileNotFoundError, match='voc07, voc0712, imagenet'):
        resolve(3, str(tmp_path / 'none.npz'), FASTER_RCNN_VGG16_MODELS)


@pytest.mark.slow
def test_pickled_weights_are_refused(tmp_path):
    # Builds the full model (seconds) before it reads the file.
    marker = tmp_path / 'ran'
    path = hostile_npz(tmp_path / 'model.npz', marker,
                       key='extractor/conv1_1/conv/W')
    assert_payload_is_live(path, marker, key='extractor/conv1_1/conv/W')
    with pytest.raises(BadFileError) as info:
        FasterRCNNVGG16(n_fg_class=3, pretrained_model=path)
    assert_refused(info.value, path, marker)


def tiny_chainercv_layout_model():
    extractor = vgg16.VGG16((4, 4, 8, 8, 8), freeze_conv12=False,
                            cover_all=True, activ_links=True)
    head = vgg16.VGG16RoIHead(3, in_channels=8, fc_size=16)
    return FasterRCNN(extractor, RegionProposalNetwork(8, 8), head)


def test_imagenet_weights_in_chainercv_names(tmp_path):
    model = tiny_chainercv_layout_model()
    rng = numpy.random.RandomState(0)
    weights = {}
    for name in conv_names():
        conv = model.extractor.conv(name)
        weights[name + '/conv/W'] = rng.normal(size=conv.W.shape)
        weights[name + '/conv/b'] = rng.normal(size=conv.b.shape)
    for name in ('fc6', 'fc7'):
        link = getattr(model.head, name)
        weights[name + '/W'] = rng.normal(size=link.W.shape)
        weights[name + '/b'] = rng.normal(size=link.b.shape)
    # chainercv's file also holds fc8, which Faster R-CNN does not use.
    weights['fc8/W'] = rng.normal(size=(10, 16))
    path = str(tmp_path / 'vgg16.npz')
    numpy.savez(path, **weights)
    load_vgg16_imagenet(model, path, layout='chainercv')
    numpy.testing.assert_allclose(model.extractor.conv5_3.conv.W.array,
                                  weights['conv5_3/conv/W'], rtol=1e-6)
    numpy.testing.assert_allclose(model.head.fc7.b.array, weights['fc7/b'],
                                  rtol=1e-6)
    del weights['conv2_2/conv/b']
    numpy.savez(path, **weights)
    with pytest.raises(BadFileError, match='conv2_2/conv/b'):
        load_vgg16_imagenet(model, path, layout='chainercv')
