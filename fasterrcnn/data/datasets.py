"""The training or test data set that a configuration names, in either
layout (``data.format``).

``voc``: ``data.dir`` is a VOCdevkit year folder and ``data.train_split`` /
``data.test_split`` name the image sets
(:class:`~fasterrcnn.data.voc.VOCBboxDataset`).

``coco``: ``data.dir`` holds the images and ``data.train_annotations`` /
``data.test_annotations`` name the instances JSON files
(:class:`~fasterrcnn.data.coco.COCOBboxDataset`). A relative annotation
path is relative to ``data.dir``, so that a data set folder with its
annotations inside can move as one (``annotations/instances_val2017.json``
in the official layout).

The training set drops difficult (crowd) objects unless
``data.use_difficult``; the test set keeps them and returns their flags, as
the evaluation needs.
"""

import os

from fasterrcnn.data.coco import COCOBboxDataset
from fasterrcnn.data.voc import VOCBboxDataset
from fasterrcnn.errors import ConfigError

#: The splits :func:`open_split` opens.
WHICH = ('train', 'test')


def annotations_path(config, which, data_dir=None):
    """The instances JSON of split ``which`` for ``data.format: coco``.

    Args:
        config (fasterrcnn.config.Config): the configuration.
        which (str): ``'train'`` or ``'test'``.
        data_dir (str or None): the data folder (None: ``data.dir``).

    Returns:
        str: ``data.<which>_annotations``, joined to the data folder when
        relative.

    Raises:
        ConfigError: the key is not set.
    """
    key = '{}_annotations'.format(which)
    path = getattr(config.data, key)
    if path is None:
        raise ConfigError(
            'data.format is coco but data.{} is not set: give the COCO '
            'instances JSON of the {} images (relative to data.dir) with '
            '--set data.{}=PATH'.format(
                key, 'training' if which == 'train' else 'test', key))
    data_dir = config.data.dir if data_dir is None else data_dir
    return os.path.join(data_dir, path)


def open_split(config, which, data_dir=None, split=None, label_names=None):
    """The training or test data set of a configuration.

    Args:
        config (fasterrcnn.config.Config): the configuration
            (``data.format``, ``data.dir``, the split or annotation keys,
            ``data.label_names``, ``data.use_difficult``).
        which (str): ``'train'`` (difficult objects as
            ``data.use_difficult`` says, no flags) or ``'test'`` (all
            objects, with the difficult flags).
        data_dir (str or None): the data folder instead of ``data.dir``.
        split (str or None): for ``voc``, the image set instead of
            ``data.<which>_split``; for ``coco``, the annotation file
            instead of ``data.<which>_annotations`` (taken as it is, not
            relative to the data folder).
        label_names (sequence of str or None): the class names instead of
            ``data.label_names``.

    Returns:
        VOCBboxDataset or COCOBboxDataset: examples ``(img, bbox, label)``
        for training, ``(img, bbox, label, difficult)`` for testing, with
        ``ids``, ``label_names``, ``split`` and ``check_example``.

    Raises:
        ConfigError: a key the format needs is not set.
        FileNotFoundError: the split or annotation file does not exist.
        ValueError: the annotation file is malformed (one line).
    """
    if which not in WHICH:
        raise ValueError('which must be one of {}, got {!r}'.format(
            WHICH, which))
    data_dir = config.data.dir if data_dir is None else data_dir
    if label_names is None:
        label_names = config.data.label_names
    test = which == 'test'
    use_difficult = True if test else config.data.use_difficult
    if config.data.format == 'coco':
        annotations = split if split is not None else \
            annotations_path(config, which, data_dir)
        return COCOBboxDataset(data_dir, annotations,
                               use_difficult=use_difficult,
                               return_difficult=test, label_names=label_names)
    if split is None:
        split = getattr(config.data, '{}_split'.format(which))
    return VOCBboxDataset(data_dir, split, use_difficult=use_difficult,
                          return_difficult=test, label_names=label_names)
