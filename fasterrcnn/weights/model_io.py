"""Save and load a trained model with what is needed to rebuild it.

A model file is a Chainer ``.npz`` of the model's parameters plus one entry,
``fasterrcnn_meta``, holding JSON: the backbone (``arch``, a name of
:data:`fasterrcnn.links.backbones.BACKBONES`; files without it are VGG16's),
the constructor's arguments and the class names. ``eval.py`` and
``predict`` users need nothing else.
"""

import json
import os

import chainer
import numpy

from fasterrcnn.atomic import atomic_write
from fasterrcnn.links.backbones import backbone
from fasterrcnn.safe_npz import (BadFileError, SafeNpzDeserializer, open_npz,
                                 read_entry)

META_KEY = 'fasterrcnn_meta'


def save_model(model, path, label_names=None, info=None):
    """Write ``model``'s weights and its architecture to ``path`` atomically.

    Args:
        model (FasterRCNN): a backbone's model (on any device), with
            ``arch`` and ``init_args``.
        path (str): the ``.npz`` file to write.
        label_names (sequence of str or None): the foreground class names.
        info (dict or None): more JSON entries for the record (``best.npz``
            keeps ``{'best': {'iteration': I, 'map': M}}``); read back with
            :func:`read_model_info`.
    """
    meta = dict(info or {})
    meta.update({'format': 1, 'arch': model.arch,
                 'init_args': model.init_args,
                 'label_names': list(label_names) if label_names else None})
    arrays = {}
    chainer.serializers.DictionarySerializer(arrays).save(model)
    arrays[META_KEY] = numpy.array(json.dumps(meta))
    with atomic_write(path) as f:
        numpy.savez_compressed(f, **arrays)


def load_model(path):
    """Rebuild a model saved by :func:`save_model`.

    Args:
        path (str): the ``.npz`` file.

    Returns:
        tuple: ``(model, label_names)``; ``label_names`` may be None.

    Raises:
        FileNotFoundError: no such file.
        BadFileError: (a ``ValueError``) the file is not a model written by
            :func:`save_model` (for example a trainer snapshot), or holds
            anything but plain arrays; one line naming the file, with what
            to do. Nothing in the file is executed (see
            :mod:`fasterrcnn.safe_npz`).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('model file not found: {}'.format(path))
    with open_npz(path) as f:
        if META_KEY not in f.files:
            raise BadFileError(
                '{} holds no {} entry: it is not a model written by '
                'train_chainer.py (a trainer snapshot is not a model; use '
                'the model.npz of the output directory)'.format(
                    path, META_KEY))
        meta = _read_meta(path, read_entry(f, META_KEY, path))
        try:
            model = backbone(meta.get('arch', 'vgg16'))(**meta['init_args'])
        except (TypeError, ValueError) as e:
            raise BadFileError('{}: entry {!r} describes no valid model '
                               '({})'.format(path, META_KEY, e))
        SafeNpzDeserializer(f, path, 'model file').load(model)
    return model, meta.get('label_names')


def read_model_info(path):
    """The JSON record of a model file (``init_args``, ``label_names`` and
    what :func:`save_model` was given as ``info``), read as data only.

    Raises:
        FileNotFoundError, BadFileError: as :func:`load_model`.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('model file not found: {}'.format(path))
    with open_npz(path) as f:
        if META_KEY not in f.files:
            raise BadFileError('{} holds no {} entry: it is not a model '
                               'file'.format(path, META_KEY))
        return _read_meta(path, read_entry(f, META_KEY, path))


def _read_meta(path, entry):
    """The JSON dict of the meta entry, or a one-line BadFileError."""
    try:
        meta = json.loads(str(entry))
    except ValueError as e:
        meta = e
    if not isinstance(meta, dict) or \
            not isinstance(meta.get('init_args'), dict):
        raise BadFileError('{}: entry {!r} is not the JSON object of a model '
                           'file'.format(path, META_KEY))
    names = meta.get('label_names')
    if names is not None and (not isinstance(names, list) or
                              not all(isinstance(n, str) for n in names)):
        raise BadFileError('{}: entry {!r}: label_names must be a list of '
                           'strings'.format(path, META_KEY))
    return meta
