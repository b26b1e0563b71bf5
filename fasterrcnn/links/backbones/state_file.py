"""A file of named weights, read as data: ImageNet weights in torchvision's
``state_dict`` names, as torchvision's ``.pth`` (no torch needed,
:mod:`fasterrcnn.pth_format`) or an ``.npz`` of the same names
(``numpy.savez(path, **{k: v.numpy() for k, v in sd.items()})``)."""

import os

import chainer
import numpy

from fasterrcnn.errors import BadFileError
from fasterrcnn.pth_format import read_pth
from fasterrcnn.safe_npz import open_npz, read_entry


def read_state(path, keys):
    """The arrays of ``keys`` that the file holds.

    A ``.pth`` may hold a bare ``state_dict`` or a checkpoint with one under
    ``'model'`` (the PyTorch version's trainer); any other file is read as
    an ``.npz``.

    Args:
        path (str): the file.
        keys (iterable of str): the names wanted.

    Returns:
        dict: name -> ``numpy.ndarray``, for the names the file has.

    Raises:
        FileNotFoundError: no such file.
        BadFileError: the file is not a state_dict, or holds anything but
            plain arrays (one line naming it); nothing in it is executed.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError('{}: no such file'.format(path))
    if path.endswith('.pth'):
        state = read_pth(path)
        if isinstance(state, dict) and isinstance(state.get('model'), dict):
            state = state['model']
        if not isinstance(state, dict):
            raise BadFileError('{}: holds no state_dict (a dict of names to '
                               'tensors)'.format(path))
        return {k: numpy.asarray(state[k]) for k in keys if k in state}
    with open_npz(path) as f:
        return {k: read_entry(f, k, path) for k in keys if k in f.files}


def copy_into(targets, weights, path, what):
    """Write each named weight into the model's array, in place.

    Args:
        targets (list of tuple): ``(name, array)``: the model's arrays (on
            any device), by the file's names.
        weights (dict): name -> array, from :func:`read_state`.
        path (str): the file, for messages.
        what (str): what the file should be (``"torchvision's resnet50
            ImageNet weights"``), for messages.

    Raises:
        BadFileError: a name is missing or its shape differs.
    """
    for key, target in targets:
        if key not in weights:
            raise BadFileError('{} has no {}: is it {}?'.format(
                path, key, what))
        value = numpy.asarray(weights[key], numpy.float32)
        if value.shape != target.shape:
            raise BadFileError(
                '{}: {} has shape {}, the model needs {} ({} need the full '
                'widths and depths)'.format(path, key, value.shape,
                                            target.shape, what))
        target[...] = chainer.backend.get_array_module(target).asarray(
            value, dtype=target.dtype)
