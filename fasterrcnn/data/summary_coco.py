"""The start-up summary of a COCO-format data set (as
:mod:`fasterrcnn.data.summary` gives for VOC): which category became which
label, and the images, objects and crowd objects of each split, from the
instances JSON files alone (no image is opened)."""

import collections

from fasterrcnn.data.coco import load_coco_json
from fasterrcnn.data.datasets import annotations_path
from fasterrcnn.data.summary import per_class_line, unknown_names_warning

#: One split's counts: ``objects`` and ``crowd`` map a label name to its
#: number of objects (all of them, and those marked ``iscrowd``).
COCOSplitCounts = collections.namedtuple(
    'COCOSplitCounts', ['split', 'path', 'n_images', 'objects', 'crowd',
                        'unknown'])


def count_coco_split(name, path, label_names=None):
    """The images and objects per class of one instances JSON file.

    Args:
        name (str): the split's name in the summary (``train``, ``test``).
        path (str): the instances JSON file.
        label_names (sequence of str or None): the class names (None: the
            categories' names in id order, as the reader takes them).

    Returns:
        tuple: ``(counts, categories)``: a :class:`COCOSplitCounts` and the
        file's categories (``{'id', 'name'}`` dicts in id order).
    """
    images, annotations, categories = load_coco_json(path)
    names = {c['id']: c['name'] for c in categories}
    known = set(label_names if label_names is not None else names.values())
    objects, crowd = collections.Counter(), collections.Counter()
    unknown = collections.Counter()
    for ann in annotations:
        category = names[ann['category_id']]
        if category not in known:
            unknown[category] += 1
            continue
        objects[category] += 1
        if ann.get('iscrowd', 0):
            crowd[category] += 1
    return COCOSplitCounts(name, path, len(images), objects, crowd,
                           unknown), categories


def summarize_coco(config):
    """The summary of the configured COCO-format data set.

    Args:
        config (fasterrcnn.config.Config): ``data.dir``,
            ``data.train_annotations``, ``data.test_annotations``,
            ``data.label_names``, ``data.use_difficult``.

    Returns:
        tuple: ``(lines, warnings)`` as
        :func:`fasterrcnn.data.summary.summarize_data` returns them.
    """
    data = config.data
    given = data.label_names
    train, categories = count_coco_split(
        'train', annotations_path(config, 'train'), given)
    splits = [train]
    if data.test_annotations:
        splits.append(count_coco_split(
            'test', annotations_path(config, 'test'), given)[0])
    names = list(given) if given is not None else \
        [c['name'] for c in categories]
    label = {name: lab for lab, name in enumerate(names)}
    mapping = ', '.join(
        '{} -> {} {}'.format(c['id'], label[c['name']], c['name'])
        if c['name'] in label else '{} -> none ({}, not among the classes)'
        .format(c['id'], c['name']) for c in categories)
    lines = ['data: {} (COCO format)'.format(data.dir),
             'classes: {}, from {}: category id -> label name: {}'.format(
                 len(names), 'data.label_names' if given is not None else
                 'the categories of ' + train.path, mapping)]
    for counts in splits:
        n_crowd = sum(counts.crowd.values())
        line = '{} ({}): {} images, {} objects, {} of them crowd'.format(
            counts.split, counts.path, counts.n_images,
            sum(counts.objects.values()), n_crowd)
        if n_crowd and counts.split == 'train':
            line += ' ({})'.format(
                'trained on: data.use_difficult is true'
                if data.use_difficult else 'left out of training: '
                'data.use_difficult is false')
        elif n_crowd:
            line += ' (they count neither way in the mAP)'
        lines.append(line)
    lines.append(per_class_line(splits, names))
    warnings = []
    for name in names:
        if not train.objects[name]:
            warnings.append(
                'class {!r} has no object in {}: the model cannot learn it '
                'and its AP will be n/a'.format(name, train.path))
    for counts in splits:
        if counts.unknown:
            warnings.append(unknown_names_warning(
                counts.unknown, counts.path, 'categories', len(names),
                'add the names to data.label_names or fix the categories'))
    return lines, warnings
