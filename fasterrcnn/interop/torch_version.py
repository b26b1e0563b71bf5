"""Running the PyTorch version from an unmodified checkout of it.

simple-faster-rcnn-pytorch (commit 367db36) was written for a CUDA machine
with visdom and torchnet installed and an older torch, numpy and
torchvision. Nothing in its checkout is edited; what it needs is supplied
from outside, at run time, for this process only:

- ``visdom`` and ``torchnet.meter``: stand-ins (its trainer builds a
  ``Visualizer`` and confusion / average meters that no comparison reads);
- ``.cuda()`` on tensors and modules: the identity when no GPU is usable;
- ``numpy.bool`` (removed in numpy 1.24): ``bool``;
- ``torchvision.models.vgg16(pretrained)``: the positional flag of old
  torchvision, answered with random weights (``weights=None``); weights
  come from a recipe or a checkpoint afterwards, never from a download.

The checkout's own ``t.load`` of checkpoints is not used: checkpoints are
read by :mod:`fasterrcnn.weights.torch_checkpoint` (weights only).
"""

import collections
import contextlib
import importlib
import os
import sys
import types

import numpy

#: The checkout's top-level packages; imported fresh for each checkout.
_PACKAGES = ('model', 'utils', 'trainer', 'data')

TorchVersion = collections.namedtuple(
    'TorchVersion', ['torch', 'FasterRCNNVGG16', 'FasterRCNNTrainer',
                     'preprocess', 'opt', 'cuda'])


class _Meter(object):
    """Stands in for torchnet's meters: accepts everything, keeps nothing."""

    def __init__(self, *args, **kwargs):
        pass

    def add(self, *args, **kwargs):
        pass

    def reset(self):
        pass

    def value(self):
        return (0., 0.)


class _Visdom(object):
    """Stands in for ``visdom.Visdom``: every call does nothing; ``env`` is
    kept (the trainer saves it in its checkpoints)."""

    def __init__(self, *args, **kwargs):
        self.env = kwargs.get('env', 'main')

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _stand_in_modules():
    visdom = types.ModuleType('visdom')
    visdom.Visdom = _Visdom
    torchnet = types.ModuleType('torchnet')
    meter = types.ModuleType('torchnet.meter')
    meter.ConfusionMeter = meter.AverageValueMeter = _Meter
    torchnet.meter = meter
    return {'visdom': visdom, 'torchnet': torchnet, 'torchnet.meter': meter}


def _check_checkout(repo):
    for name in ('trainer.py', os.path.join('model', 'faster_rcnn_vgg16.py'),
                 os.path.join('utils', 'config.py')):
        if not os.path.isfile(os.path.join(repo, name)):
            raise FileNotFoundError(
                '{} is not a checkout of simple-faster-rcnn-pytorch (no {}); '
                'clone it and check out commit 367db36'.format(repo, name))


@contextlib.contextmanager
def _on_path(repo):
    sys.path.insert(0, repo)
    try:
        yield
    finally:
        sys.path.remove(repo)


def load_torch_version(repo):
    """Imports the PyTorch version's model, trainer and preprocessing.

    Args:
        repo (str): an unmodified checkout of simple-faster-rcnn-pytorch.

    Returns:
        TorchVersion: ``torch``, the classes ``FasterRCNNVGG16`` and
        ``FasterRCNNTrainer``, ``preprocess`` (its image preparation), its
        ``opt`` config object, and ``cuda`` (whether a GPU is used).

    Raises:
        FileNotFoundError: ``repo`` is not such a checkout.
        ImportError: torch or torchvision is missing (the ``torch`` extra).
    """
    repo = os.path.abspath(repo)
    _check_checkout(repo)
    import torch
    import torchvision
    cuda = torch.cuda.is_available()
    if not cuda:
        torch.Tensor.cuda = lambda self, *args, **kwargs: self
        torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    if 'bool' not in numpy.__dict__:
        numpy.bool = bool
    for name, module in _stand_in_modules().items():
        sys.modules.setdefault(name, module)
    for name in list(sys.modules):
        if name.split('.')[0] in _PACKAGES:
            del sys.modules[name]
    with _on_path(repo):
        vgg_module = importlib.import_module('model.faster_rcnn_vgg16')
        original_vgg16 = torchvision.models.vgg16

        def vgg16(pretrained=False, **kwargs):
            return original_vgg16(weights=None)
        vgg_module.vgg16 = vgg16
        config = importlib.import_module('utils.config')
        # A truthy load_path: the checkout builds VGG16 without downloading
        # ImageNet weights; the caller loads weights afterwards.
        config.opt.load_path = 'weights-from-the-caller'
        trainer = importlib.import_module('trainer')
        dataset = importlib.import_module('data.dataset')
    return TorchVersion(torch, vgg_module.FasterRCNNVGG16,
                        trainer.FasterRCNNTrainer, dataset.preprocess,
                        config.opt, cuda)
