"""Reading the PyTorch version's ``.pth`` files as untrusted data.

A ``.pth`` is a pickle; a plain ``torch.load`` runs whatever callable the
file names. Here every file is read with ``torch.load(...,
weights_only=True)``: torch's restricted unpickler builds only tensors,
plain containers and numbers, plus the globals allowed below, and refuses
anything else before it is called.

The allow-list is what real checkpoints of the PyTorch version hold beyond
tensors: its ``trainer.save`` stores ``other_info`` (e.g. ``best_map``,
a NumPy float64 scalar) next to ``model`` (the state_dict), ``config`` and
``vis_info``. NumPy pickles a scalar as ``multiarray.scalar(dtype, bytes)``
under ``numpy.core`` (NumPy 1) or ``numpy._core`` (NumPy 2), and a dtype as
``numpy.dtype`` plus its class in ``numpy.dtypes``; these build values, they
call nothing else.

torch is imported only when a ``.pth`` is read (the ``torch`` extra).
"""

import os
import pickle
import re

import numpy

from fasterrcnn.safe_npz import BadFileError

#: dtypes whose NumPy scalars a checkpoint may hold.
_SCALAR_DTYPES = ('float16', 'float32', 'float64', 'int8', 'int16', 'int32',
                  'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool')
_GLOBAL_RE = re.compile(r'GLOBAL ([\w.]+)')


def _numpy_scalar():
    try:
        from numpy._core.multiarray import scalar  # NumPy 2
    except ImportError:
        from numpy.core.multiarray import scalar  # NumPy 1
    return scalar


def allowed_globals():
    """The globals, beyond torch's own, that a checkpoint may name.

    Returns:
        list: objects and ``(object, 'module.name')`` pairs for
        ``torch.serialization.safe_globals`` (a pair accepts the name a
        pickle written under the other NumPy major version uses).
    """
    scalar = _numpy_scalar()
    allowed = [(scalar, 'numpy.core.multiarray.scalar'),
               (scalar, 'numpy._core.multiarray.scalar'), numpy.dtype]
    for name in _SCALAR_DTYPES:
        allowed.append(type(numpy.dtype(name)))  # numpy.dtypes.Float64DType
    return allowed


def _import_torch(path, doing='reading'):
    try:
        import torch
    except ImportError:
        raise BadFileError(
            '{}: {} a .pth file needs torch: pip install '
            '".[torch]" (or make venv-torch)'.format(path, doing)) from None
    return torch


def load_torch_file(path):
    """``torch.load`` of ``path`` on the CPU, weights only.

    Args:
        path (str): the ``.pth`` file.

    Returns:
        the unpickled object (tensors, containers, numbers, NumPy scalars).

    Raises:
        FileNotFoundError: no such file.
        BadFileError: the file needs anything outside the allow-list (it
            could run code), or is not a PyTorch file; one line naming it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError('{}: no such file'.format(path))
    torch = _import_torch(path)
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        found = _GLOBAL_RE.search(str(e))
        what = found.group(1) if found else str(e).splitlines()[0]
        raise BadFileError(
            '{}: refused: it asks to import {} to load, which could run code;'
            ' only tensors, plain containers and NumPy scalars are read'
            .format(path, what)) from None
    except Exception as e:  # noqa: B902  nothing ran: a parse failure
        raise BadFileError('{}: not a readable PyTorch file ({})'.format(
            path, str(e).splitlines()[0] if str(e) else type(e).__name__)) \
            from None


def _to_numpy(value):
    if hasattr(value, 'detach'):
        return value.detach().cpu().numpy()
    return value


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
            isinstance(k, str) and hasattr(v, 'detach')
            for k, v in data.items()):
        raise BadFileError(
            '{}: holds no state_dict (a dict of names to tensors, or a '
            'trainer checkpoint with a "model" entry)'.format(path))
    return {k: _to_numpy(v) for k, v in data.items()}, other_info


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
