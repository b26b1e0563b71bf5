"""A start-up summary of a VOC-layout data set, and what in it to warn of.

The counts come from the annotation files alone (each ``Annotations/<id>
.xml`` of a split parsed for its objects' names and difficult flags): no
image is opened, so the summary of VOC2007 (about 10,000 files) takes a
second or two. The boxes are not checked here; the data set reader does
that (:mod:`fasterrcnn.data.bad_examples`).
"""

import collections
import os
import xml.etree.ElementTree as ElementTree

from fasterrcnn.data.bad_examples import BadExampleError
from fasterrcnn.data.voc import (LABELS_FILE, LABELS_GIVEN, LABELS_VOC_ASSUMED,
                                 VOCBboxDataset, _flag)

#: Per-split counts. ``objects`` and ``difficult`` map a class name (as
#: written in the annotations) to its number of objects, all of them and
#: those marked difficult; ``unknown`` the same for names that are not
#: among the classes; ``unreadable`` is the number of listed images whose
#: annotation is missing or not XML.
SplitCounts = collections.namedtuple(
    'SplitCounts', ['split', 'n_images', 'objects', 'difficult', 'unknown',
                    'unreadable'])


def _is_difficult(obj, path):
    """The ``<difficult>`` flag of an ``<object>``, read as the VOC reader
    reads it; a malformed one counts as not difficult here (the reader
    reports it, naming the file, when the example is read)."""
    try:
        return _flag(obj, 'difficult', path, 'an object')
    except BadExampleError:
        return False


def count_split(dataset):
    """Objects per class in one split, from its annotation files.

    Args:
        dataset (VOCBboxDataset): the split (its ``ids``, ``data_dir``,
            ``label_names`` and ``lowercase_names`` are used).

    Returns:
        SplitCounts: the counts.
    """
    known = set(dataset.label_names)
    objects, difficult = collections.Counter(), collections.Counter()
    unknown = collections.Counter()
    unreadable = 0
    for image_id in dataset.ids:
        path = os.path.join(dataset.data_dir, 'Annotations',
                            image_id + '.xml')
        try:
            root = ElementTree.parse(path).getroot()
        except (OSError, ElementTree.ParseError):
            unreadable += 1
            continue
        for obj in root.findall('object'):
            name = (obj.findtext('name') or '').strip()
            if dataset.lowercase_names:
                name = name.lower()
            if name not in known:
                unknown[name] += 1
                continue
            objects[name] += 1
            if _is_difficult(obj, path):
                difficult[name] += 1
    return SplitCounts(dataset.split, len(dataset.ids), objects, difficult,
                       unknown, unreadable)


def _names_origin(dataset):
    """Where the class names came from, in words."""
    if dataset.label_names_source == LABELS_GIVEN:
        return 'data.label_names'
    if dataset.label_names_source == LABELS_VOC_ASSUMED:
        return ('the 20 PASCAL VOC names, assumed (no {} in {}, no '
                'data.label_names)'.format(LABELS_FILE, dataset.data_dir))
    return os.path.join(dataset.data_dir, LABELS_FILE)


def _where_to_edit(dataset):
    """Where the user writes the class names."""
    if dataset.label_names_source == LABELS_GIVEN:
        return 'data.label_names'
    return os.path.join(dataset.data_dir, LABELS_FILE)


def _count(n, noun):
    return '{} {}{}'.format(n, noun, '' if n == 1 else 's')


def _split_line(counts, use_difficult=None, n_eval=None):
    """One line of a split's images and objects."""
    n_objects = sum(counts.objects.values())
    n_difficult = sum(counts.difficult.values())
    images = _count(counts.n_images, 'image')
    if n_eval is not None and n_eval < counts.n_images:
        images += ' (the first {} evaluated: eval.n_images)'.format(n_eval)
    line = '{}: {}, {}, {} of them difficult'.format(
        counts.split, images, _count(n_objects, 'object'), n_difficult)
    if n_difficult and use_difficult is False:
        line += ' (left out of training: data.use_difficult is false)'
    elif n_difficult and use_difficult is None:
        line += ' (they count neither way in the mAP)'
    if counts.unreadable:
        line += '; {} missing or unreadable, not counted'.format(
            _count(counts.unreadable, 'annotation file'))
    return line


def summarize_data(config):
    """The summary of the configured VOC-layout data set.

    Args:
        config (fasterrcnn.config.Config): the run's configuration
            (``data.dir``, ``data.train_split``, ``data.test_split``,
            ``data.label_names``, ``data.use_difficult``,
            ``eval.n_images``).

    Returns:
        tuple: ``(lines, warnings)``, lists of str without line ends. The
        lines give the classes and where their names came from, and the
        images, objects and difficult objects of each split; the warnings
        (each saying what will happen and what to change) the VOC names
        assumed for want of a ``labels.txt``, classes without a training
        object and names in the annotations that are not among the classes.

    Raises:
        FileNotFoundError: a split file is missing.
        ValueError: ``labels.txt`` is empty or lists a name twice.
    """
    data = config.data
    train = VOCBboxDataset(data.dir, data.train_split,
                           label_names=data.label_names)
    splits = [count_split(train)]
    if data.test_split:
        splits.append(count_split(VOCBboxDataset(
            data.dir, data.test_split, label_names=data.label_names)))
    names = train.label_names
    lines = [
        'data: {} (VOC layout)'.format(data.dir),
        'classes: {}, from {}: {}'.format(len(names), _names_origin(train),
                                          ', '.join(names)),
        _split_line(splits[0], use_difficult=data.use_difficult)]
    if len(splits) > 1:
        lines.append(_split_line(splits[1], n_eval=config.eval.n_images))
    lines.append(per_class_line(splits, names))
    return lines, _warnings(train, splits)


def per_class_line(splits, names):
    """``objects per class (train / test): a 3 / 1, b 0 / 2``.

    Args:
        splits (sequence): counts with ``split`` and ``objects`` (a Counter
            of class name), e.g. :class:`SplitCounts`.
        names (sequence of str): the classes, in label order.
    """
    return 'objects per class ({}): {}'.format(
        ' / '.join(s.split for s in splits),
        ', '.join('{} {}'.format(name, ' / '.join(
            str(s.objects[name]) for s in splits)) for name in names))


def _warnings(train, splits):
    names = train.label_names
    trained = splits[0].objects
    warnings = []
    if train.label_names_source == LABELS_VOC_ASSUMED:
        used = [name for name in names
                if any(s.objects[name] for s in splits)]
        warnings.append(
            'no {0} in {1} and no data.label_names: the 20 PASCAL VOC class '
            'names are assumed and the model gets 20 classes, of which the '
            'annotations use {2} ({3}); if your classes are others, write '
            'their names, one per line, to {4}'.format(
                LABELS_FILE, train.data_dir, len(used),
                ', '.join(used) or 'none',
                os.path.join(train.data_dir, LABELS_FILE)))
    else:
        for name in names:
            if not trained[name]:
                warnings.append(
                    'class {!r} has no object in the {} split: the model '
                    'cannot learn it and its AP will be n/a; add images of '
                    'it or remove it from {}'.format(
                        name, train.split, _where_to_edit(train)))
    for counts in splits:
        if counts.unknown:
            warnings.append(unknown_names_warning(
                counts.unknown, 'the {} split'.format(counts.split),
                'class names', len(names), 'add the names to {} or fix the '
                'annotations'.format(_where_to_edit(train))))
    return warnings


def unknown_names_warning(unknown, where, what, n_classes, fix):
    """The warning about objects whose class is not among the classes.

    Args:
        unknown (collections.Counter): objects per unknown name.
        where (str): the split or file they are in.
        what (str): what the data calls a class (``'class names'``).
        n_classes (int): the number of classes.
        fix (str): what to do.
    """
    return ('{} objects of {} have {} that are not among the {} classes '
            '({}): their images cannot be used; {}'.format(
                sum(unknown.values()), where, what, n_classes,
                ', '.join(sorted(n or '(no name)' for n in unknown)), fix))
