"""Weights to and from files: the model file (``model_io``), PyTorch state
dicts and ``.pth`` checkpoints, ImageNet VGG16 weights. Above ``links``,
below ``training``: training and the chainercv adapter read weights through
it, and it imports nothing above ``links``."""

from fasterrcnn.weights.state_dict import (export_state_dict, load_state_dict,
                                           pytorch_names)

__all__ = ['export_state_dict', 'load_state_dict', 'pytorch_names']
