"""The PyTorch version's ``.pth`` files: reading them as untrusted data,
writing a state_dict it loads.

A ``.pth`` is a pickle, and a plain ``torch.load`` runs whatever callable
the file names. Reading goes through
:func:`fasterrcnn.pth_format.read_pth` instead, which needs no
torch: its unpickler builds only tensors (as NumPy arrays), plain
containers, numbers, strings and NumPy scalars, and refuses any other name
before anything is called. Real
checkpoints of the PyTorch version hold just that: its ``trainer.save``
stores ``other_info`` (e.g. ``best_map``, a NumPy float64 scalar) next to
``model`` (the state_dict), ``config`` and ``vis_info``.

torch is imported only to write a ``.pth`` (the ``torch`` extra).
"""

import os

import numpy

from fasterrcnn.pth_format import read_pth
from fasterrcnn.safe_npz import BadFileError


def _import_torch(path, doing='writing'):
    try:
        import torch
    except ImportError:
        raise BadFileError(
            '{}: {} a .pth file needs torch: pip install '
            '".[torch]" (or make venv-torch)'.format(path, doing)) from None
    return torch


def load_torch_file(path):
    """Reads ``path`` as data only, without torch (:func:`read_pth`).

    Args:
        path (str): the ``.pth`` file.

    Returns:
        the unpickled object: tensors as NumPy arrays, containers, numbers,
        strings, NumPy scalars.

    Raises:
        FileNotFoundError: no such file.
        BadFileError: the file needs anything outside the allow-list (it
            could run code), or is not a PyTorch file; one line naming it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError('{}: no such file'.format(path))
    return read_pth(path)


def load_torch_checkpoint(path):
    """The state_dict of a PyTorch version checkpoint, as NumPy arrays.

    Reads the trainer format (a dict with a ``model`` state_dict and
    ``other_info``, ``config``, ``vis_info``) or a bare state_dict.

    Args:
        path (str): the ``.pth`` file.

    Returns:
        tuple: ``(state_dict, other_info)``: ``{name: numpy array}`` in the
        file's order, and the trainer's ``other_info`` dict with NumPy
        scalars as Python numbers (empty for a bare state_dict).

    Raises:
        FileNotFoundError, BadFileError: as :func:`load_torch_file`, or the
        file holds no state_dict.
    """
    data = load_torch_file(path)
    other_info = {}
    if isinstance(data, dict) and isinstance(data.get('model'), dict):
        info = data.get('other_info')
        if isinstance(info, dict):
            other_info = {str(k): v.item() if isinstance(v, numpy.generic)
                          else v for k, v in info.items()}
        data = data['model']
    if not isinstance(data, dict) or not data or not all(
            isinstance(k, str) and isinstance(v, numpy.ndarray)
            for k, v in data.items()):
        raise BadFileError(
            '{}: holds no state_dict (a dict of names to tensors, or a '
            'trainer checkpoint with a "model" entry)'.format(path))
    return dict(data), other_info


def save_torch_state_dict(state_dict, path):
    """Writes ``{name: array}`` as a state_dict of CPU tensors with
    ``torch.save`` (what the PyTorch version's ``load_state_dict`` reads).

    Args:
        state_dict (mapping): name to NumPy array.
        path (str): the ``.pth`` file to write (atomically).
    """
    from fasterrcnn.atomic import atomic_write
    torch = _import_torch(path, 'writing')
    tensors = {k: torch.from_numpy(numpy.ascontiguousarray(v))
               for k, v in state_dict.items()}
    with atomic_write(path) as f:
        torch.save(tensors, f)
