"""ImageNet VGG16 weights for the extractor and fc6 / fc7.

The file is an ``.npz`` of torchvision's ``vgg16().state_dict()`` (names
``features.<i>.weight`` / ``.bias`` for the 13 convolutions and
``classifier.0`` / ``classifier.3`` for fc6 / fc7, the layers the PyTorch
version keeps). Convert once with ``numpy.savez(path, **{k:
v.numpy() for k, v in state_dict.items()})``.
"""

import numpy

from fasterrcnn.interop.state_dict import FEATURE_INDEX
from fasterrcnn.links.vgg16 import conv_names
from fasterrcnn.safe_npz import BadFileError, open_npz, read_entry


def load_vgg16_imagenet(model, path):
    """Copy ImageNet VGG16 weights into a FasterRCNNVGG16.

    Args:
        model (FasterRCNNVGG16): with VGG16's widths (64 ... 512, fc 4096).
        path (str): the ``.npz`` described in the module docstring.

    Raises:
        FileNotFoundError: no such file.
        BadFileError: (a ``ValueError``) a weight is missing, does not fit or
            is not a plain array (names the file and the key); nothing in
            the file is executed.
    """
    pairs = [('features.{}'.format(i), getattr(model.extractor, name))
             for i, name in zip(FEATURE_INDEX, conv_names())]
    pairs += [('classifier.0', model.head.fc6), ('classifier.3',
                                                 model.head.fc7)]
    with open_npz(path) as f:
        for prefix, link in pairs:
            for suffix, param in (('weight', link.W), ('bias', link.b)):
                key = '{}.{}'.format(prefix, suffix)
                if key not in f.files:
                    raise BadFileError(
                        '{} has no {}: is it a torchvision VGG16 state_dict '
                        'saved as npz?'.format(path, key))
                value = read_entry(f, key, path).astype(numpy.float32)
                if value.shape != param.shape:
                    raise BadFileError(
                        '{}: {} has shape {}, the model needs {} (ImageNet '
                        'weights need the full VGG16 widths)'.format(
                            path, key, value.shape, param.shape))
                param.array[...] = param.xp.asarray(value)
