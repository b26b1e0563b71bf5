"""ImageNet VGG16 weights in torchvision's names, .npz or .pth
(fasterrcnn/weights/imagenet.py). A tiny model of the same structure stands
in for full VGG16: only the shapes differ."""

import numpy
import pytest

from fasterrcnn.links.backbones.vgg16 import conv_names
from fasterrcnn.safe_npz import BadFileError
from fasterrcnn.weights.imagenet import load_vgg16_imagenet
from fasterrcnn.weights.state_dict import FEATURE_INDEX
from tests.support.dummy_model import tiny_model
from tests.support.hostile import assert_refused, hostile_npz


def vgg_state(model, seed=0):
    """A torchvision-named VGG16 state_dict fitting ``model``."""
    rng = numpy.random.RandomState(seed)
    links = [('features.{}'.format(i), getattr(model.extractor, name))
             for i, name in zip(FEATURE_INDEX, conv_names())]
    links += [('classifier.0', model.head.fc6),
              ('classifier.3', model.head.fc7)]
    state = {}
    for prefix, link in links:
        state[prefix + '.weight'] = rng.randn(*link.W.shape).astype('f4')
        state[prefix + '.bias'] = rng.randn(*link.b.shape).astype('f4')
    state['classifier.6.weight'] = numpy.zeros((1000, 16), 'f4')  # unused
    return state


def assert_loaded(model, state):
    numpy.testing.assert_array_equal(model.extractor.conv1_1.W.array,
                                     state['features.0.weight'])
    numpy.testing.assert_array_equal(model.extractor.conv5_3.b.array,
                                     state['features.28.bias'])
    numpy.testing.assert_array_equal(model.head.fc7.W.array,
                                     state['classifier.3.weight'])


def test_npz(tmp_path):
    model = tiny_model()
    state = vgg_state(model)
    path = str(tmp_path / 'vgg16.npz')
    numpy.savez(path, **state)
    load_vgg16_imagenet(model, path)
    assert_loaded(model, state)


def test_pth_torchvision_or_caffe(tmp_path):
    torch = pytest.importorskip(
        'torch', reason='torch is installed in the numpy 2 environment only')
    model = tiny_model()
    state = vgg_state(model, seed=1)
    path = str(tmp_path / 'vgg16_caffe.pth')
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, path)
    load_vgg16_imagenet(model, path)
    assert_loaded(model, state)


def caffe_names(state):
    """``state`` with fc6 / fc7 under the published caffe VGG16's names
    (``classifier.1`` / ``.4``) and its dropout-shifted classifier."""
    renamed = {}
    for key, value in state.items():
        for old, new in (('classifier.0.', 'classifier.1.'),
                         ('classifier.3.', 'classifier.4.'),
                         ('classifier.6.', 'classifier.7.')):
            if key.startswith(old):
                key = new + key[len(old):]
        renamed[key] = value
    return renamed


def test_caffe_vgg16_as_published(tmp_path):
    # vgg16-00b39a1b.pth names fc6 / fc7 classifier.1 / .4; read as the
    # PyTorch version's converted vgg16_caffe.pth would be.
    model = tiny_model()
    state = vgg_state(model, seed=2)
    path = str(tmp_path / 'vgg16-00b39a1b.npz')
    numpy.savez(path, **caffe_names(state))
    load_vgg16_imagenet(model, path)
    assert_loaded(model, state)
    numpy.testing.assert_array_equal(model.head.fc6.b.array,
                                     state['classifier.0.bias'])


def test_wrong_widths_and_missing_layers(tmp_path):
    model = tiny_model()
    state = vgg_state(tiny_model(fc_size=32))
    path = str(tmp_path / 'other.npz')
    numpy.savez(path, **state)
    with pytest.raises(BadFileError, match='classifier.0.weight has shape'):
        load_vgg16_imagenet(model, path)
    del state['features.28.bias']
    numpy.savez(path, **state)
    with pytest.raises(BadFileError, match='has no features.28.bias'):
        load_vgg16_imagenet(model, path)


def test_hostile_weights_are_refused(tmp_path):
    model = tiny_model()
    marker = tmp_path / 'ran'
    path = hostile_npz(tmp_path / 'vgg16.npz', marker, vgg_state(model),
                       key='features.0.weight')
    with pytest.raises(BadFileError) as info:
        load_vgg16_imagenet(model, path)
    assert_refused(info.value, path, marker, key='features.0.weight')
