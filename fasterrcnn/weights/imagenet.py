"""ImageNet VGG16 weights for the extractor and fc6 / fc7.

The file holds VGG16's state_dict in torchvision's names
(``features.<i>.weight`` / ``.bias`` for the 13 convolutions and
``classifier.0`` / ``classifier.3`` for fc6 / fc7, the layers the PyTorch
version keeps), as a ``.pth`` (torchvision's own, the caffe VGG16
``vgg16-00b39a1b.pth`` or its conversion ``vgg16_caffe.pth`` by the PyTorch
version's script; read as data) or an ``.npz`` (``numpy.savez(path, **{k:
v.numpy() for k, v in state_dict.items()})``). caffe weights expect BGR
input in [0, 255] minus the mean: train them with ``model.normalize:
caffe``.

The caffe file as published holds fc6 / fc7 as ``classifier.1`` /
``classifier.4`` (its classifier starts with a dropout); torchvision's
VGG16 has no parameters under those indices (they are ReLUs), so a file
with ``classifier.1.weight`` and no ``classifier.0.weight`` is read with
those two renamed, the conversion the PyTorch version's
``misc/convert_caffe_pretrain.py`` writes to a second file.
"""


from fasterrcnn.links.backbones import resnet
from fasterrcnn.links.backbones.state_file import copy_into, read_state
from fasterrcnn.links.backbones.vgg16 import conv_names
from fasterrcnn.weights.state_dict import FEATURE_INDEX


def load_vgg16_imagenet(model, path, layout='torchvision'):
    """Copy ImageNet VGG16 weights into a FasterRCNNVGG16.

    Args:
        model (FasterRCNNVGG16): with VGG16's widths (64 ... 512, fc 4096).
        path (str): the ``.pth`` or ``.npz`` described in the module
            docstring.
        layout (str): the file's names: ``'torchvision'`` (a state_dict,
            ``features.0.weight`` ...) or ``'chainercv'`` (chainercv's VGG16
            ``.npz``, ``conv1_1/conv/W`` ... ``fc7/b``, weights for RGB input
            with the mean subtracted).

    Raises:
        FileNotFoundError: no such file.
        BadFileError: (a ``ValueError``) a weight is missing, does not fit or
            is not a plain array (names the file and the key); nothing in
            the file is executed.
    """
    params = LAYOUTS[layout](model)
    keys = [key for key, _ in params]
    if layout == 'torchvision':
        keys += list(CAFFE_NAMES)
    weights = read_state(path, keys)
    if layout == 'torchvision' and 'classifier.0.weight' not in weights:
        weights.update({new: weights.pop(old)
                        for old, new in CAFFE_NAMES.items()
                        if old in weights})
    copy_into([(key, param.array) for key, param in params], weights, path,
              'a {} VGG16 ImageNet file'.format(layout))


#: The caffe VGG16's names of fc6 / fc7 -> torchvision's.
CAFFE_NAMES = {'classifier.{}.{}'.format(old, kind):
               'classifier.{}.{}'.format(new, kind)
               for old, new in ((1, 0), (4, 3))
               for kind in ('weight', 'bias')}


def _torchvision_params(model):
    """``(key, parameter)`` pairs of a torchvision VGG16 state_dict."""
    links = [('features.{}'.format(i), model.extractor.conv(name))
             for i, name in zip(FEATURE_INDEX, conv_names())]
    links += [('classifier.0', model.head.fc6),
              ('classifier.3', model.head.fc7)]
    return [('{}.{}'.format(prefix, suffix), getattr(link, attr))
            for prefix, link in links
            for suffix, attr in (('weight', 'W'), ('bias', 'b'))]


def _chainercv_params(model):
    """``(key, parameter)`` pairs of chainercv's VGG16 ``.npz``."""
    links = [(name + '/conv', model.extractor.conv(name))
             for name in conv_names()]
    links += [('fc6', model.head.fc6), ('fc7', model.head.fc7)]
    return [('{}/{}'.format(prefix, attr), getattr(link, attr))
            for prefix, link in links for attr in ('W', 'b')]


#: The key layouts :func:`load_vgg16_imagenet` reads.
LAYOUTS = {'torchvision': _torchvision_params,
           'chainercv': _chainercv_params}


#: Backbone name (:data:`fasterrcnn.links.backbones.BACKBONES`) -> the
#: loader of its ImageNet weights (``model.pretrained``).
LOADERS = {'vgg16': load_vgg16_imagenet,
           'resnet50': resnet.load_imagenet_weights,
           'resnet101': resnet.load_imagenet_weights}


def load_imagenet(model, path):
    """Load ImageNet weights into the extractor (and head) of ``model``, by
    its backbone."""
    if model.arch not in LOADERS:
        raise ValueError('no ImageNet weights loader for the {} backbone'
                         .format(model.arch))
    LOADERS[model.arch](model, path)
