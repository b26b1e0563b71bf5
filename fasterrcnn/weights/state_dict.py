"""PyTorch-named weights (the PyTorch version's ``state_dict``) <-> Chainer.

The PyTorch version names its 40 parameters ``extractor.<i>.weight`` (the
index of the layer in ``vgg16().features``: conv1_1 is 0, conv5_3 is 28),
``rpn.conv1``, ``rpn.score``, ``rpn.loc``, ``head.classifier.0`` (fc6),
``head.classifier.2`` (fc7), ``head.cls_loc`` and ``head.score``. Weight
layouts are the same in both libraries (convolutions ``(out, in, kh, kw)``,
linear layers ``(out, in)``, fc6's input the C-order flattening of the
``(C, 7, 7)`` pooled RoI), so arrays are copied as they are.
"""

import numpy

from fasterrcnn.backend import to_cpu
from fasterrcnn.links.backbones.vgg16 import conv_names

#: ``vgg16().features`` index of each convolution (conv1_1 ... conv5_3).
FEATURE_INDEX = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


def pytorch_names(model):
    """``{pytorch_name: chainer parameter}`` for a FasterRCNNVGG16.

    Args:
        model (FasterRCNNVGG16): the Chainer model.

    Returns:
        dict: PyTorch parameter name to ``chainer.Parameter``, in the
        PyTorch version's ``state_dict`` order.
    """
    pairs = []
    for index, name in zip(FEATURE_INDEX, conv_names()):
        pairs.append(('extractor.{}'.format(index),
                      model.extractor.conv(name)))
    for name in ('conv1', 'score', 'loc'):
        pairs.append(('rpn.' + name, getattr(model.rpn, name)))
    pairs.append(('head.classifier.0', model.head.fc6))
    pairs.append(('head.classifier.2', model.head.fc7))
    pairs.append(('head.cls_loc', model.head.cls_loc))
    pairs.append(('head.score', model.head.score))
    names = {}
    for prefix, link in pairs:
        names[prefix + '.weight'] = link.W
        names[prefix + '.bias'] = link.b
    return names


def load_state_dict(model, state_dict, strict=True):
    """Copy PyTorch-named arrays into a FasterRCNNVGG16.

    Args:
        model (FasterRCNNVGG16): receives the weights (on any device).
        state_dict (mapping): name to array (NumPy, or anything with
            ``.numpy()`` / ``__array__``), e.g. from ``numpy.load`` or a
            torch ``state_dict``.
        strict (bool): every parameter must be given and no other name.

    Raises:
        KeyError: a missing or unknown name (with ``strict``).
        ValueError: a shape that does not fit, naming the parameter.
    """
    names = pytorch_names(model)
    given = set(state_dict.keys())
    if strict:
        missing = [n for n in names if n not in given]
        unknown = sorted(given - set(names))
        if missing or unknown:
            raise KeyError('state_dict does not fit the model: missing {}, '
                           'unknown {}'.format(missing, unknown))
    for name, param in names.items():
        if name not in given:
            continue
        value = state_dict[name]
        if hasattr(value, 'detach'):
            value = value.detach().cpu().numpy()
        value = numpy.asarray(value, dtype=param.dtype)
        if value.shape != param.shape:
            raise ValueError('{}: the state_dict has shape {}, the model {}'
                             .format(name, value.shape, param.shape))
        param.array[...] = param.xp.asarray(value)


def export_state_dict(model):
    """The model's weights as a dict in the PyTorch version's naming.

    Returns:
        dict: name to float32 NumPy array (copies), in ``state_dict`` order.
    """
    return {name: numpy.array(to_cpu(param.array), dtype=numpy.float32)
            for name, param in pytorch_names(model).items()}
