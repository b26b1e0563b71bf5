"""The backbones: one file each, one entry in :data:`BACKBONES`.

A backbone file defines a :class:`fasterrcnn.links.faster_rcnn.FasterRCNN`
subclass with

- ``arch``: its name here, in the config (``model.backbone``) and in the
  model file, which rebuilds it from ``arch`` and ``init_args``;
- ``init_args``: the constructor's arguments as plain values (saved with the
  weights);
- ``config_args(model_config)``: the constructor's arguments, less
  ``n_fg_class``, from the config's ``model.*`` keys;

and an extractor that keeps the contract of :mod:`fasterrcnn.links.extractor`.
"""

from fasterrcnn.links.backbones.resnet import (FasterRCNNResNet50,
                                               FasterRCNNResNet101)
from fasterrcnn.links.backbones.vgg16 import FasterRCNNVGG16

#: Backbone name -> its model class.
BACKBONES = {
    FasterRCNNVGG16.arch: FasterRCNNVGG16,
    FasterRCNNResNet50.arch: FasterRCNNResNet50,
    FasterRCNNResNet101.arch: FasterRCNNResNet101,
}


def backbone(name):
    """The model class of the backbone ``name``; a clear error for an
    unknown one."""
    if name not in BACKBONES:
        raise ValueError('unknown backbone {!r}: one of {}'.format(
            name, ', '.join(sorted(BACKBONES))))
    return BACKBONES[name]
