"""The start-up data summary: counts from the annotations, where the class
names came from, and the warnings."""

import collections
import os

from fasterrcnn.config import load_config
from fasterrcnn.data.summary import (count_split, summarize_data,
                                     unknown_names_warning)
from fasterrcnn.data.voc import (LABELS_FILE, LABELS_GIVEN, LABELS_VOC_ASSUMED,
                                 VOCBboxDataset)

OBJECT = ('<object><name>{}</name><difficult>{}</difficult><bndbox>'
          '<xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>'
          '</bndbox></object>')


def make_voc(root, splits, labels=None):
    """``splits``: {split: {id: [(name, difficult), ...]}}; no images."""
    for folder in ('Annotations', os.path.join('ImageSets', 'Main')):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    for split, images in splits.items():
        with open(os.path.join(root, 'ImageSets', 'Main', split + '.txt'),
                  'w') as f:
            f.write(''.join(i + '\n' for i in images))
        for image_id, objects in images.items():
            with open(os.path.join(root, 'Annotations', image_id + '.xml'),
                      'w') as f:
                f.write('<annotation>{}</annotation>'.format(''.join(
                    OBJECT.format(name, int(d)) for name, d in objects)))
    if labels is not None:
        with open(os.path.join(root, LABELS_FILE), 'w') as f:
            f.write(''.join(name + '\n' for name in labels))
    return root


SPLITS = {
    'trainval': {'a': [('cat', 0), ('dog', 1)], 'b': [('dog', 0)]},
    'test': {'c': [('cat', 0), ('cat', 1)]},
}


def config(root, *overrides):
    return load_config(None, ['data.dir={}'.format(root)] + list(overrides))


def test_label_names_source(tmp_path):
    root = make_voc(str(tmp_path), SPLITS)
    assert VOCBboxDataset(root).label_names_source == LABELS_VOC_ASSUMED
    assert VOCBboxDataset(root, label_names=['cat']).label_names_source \
        == LABELS_GIVEN
    make_voc(root, {}, labels=['cat', 'dog'])
    assert VOCBboxDataset(root).label_names_source == LABELS_FILE


def test_counts_objects_and_difficult_per_split(tmp_path):
    root = make_voc(str(tmp_path), SPLITS, labels=['cat', 'dog'])
    counts = count_split(VOCBboxDataset(root, 'trainval'))
    assert counts.n_images == 2
    assert counts.objects == {'cat': 1, 'dog': 2}
    assert counts.difficult == {'dog': 1}
    assert not counts.unknown and counts.unreadable == 0


def test_summary_with_labels_txt(tmp_path):
    root = make_voc(str(tmp_path), SPLITS, labels=['cat', 'dog'])
    lines, warnings = summarize_data(config(root))
    assert lines == [
        'data: {} (VOC layout)'.format(root),
        'classes: 2, from {}: cat, dog'.format(
            os.path.join(root, LABELS_FILE)),
        'trainval: 2 images, 3 objects, 1 of them difficult (left out of '
        'training: data.use_difficult is false)',
        'test: 1 image, 2 objects, 1 of them difficult (they count neither '
        'way in the mAP)',
        'objects per class (trainval / test): cat 1 / 2, dog 2 / 0',
    ]
    assert warnings == []


def test_voc_names_assumed_without_labels_txt_is_a_warning(tmp_path):
    root = make_voc(str(tmp_path), SPLITS)
    lines, warnings = summarize_data(config(root))
    assert lines[1].startswith('classes: 20, from the 20 PASCAL VOC names, '
                               'assumed (no labels.txt in ')
    assert len(warnings) == 1
    assert 'the model gets 20 classes, of which the annotations use 2 ' \
        '(cat, dog)' in warnings[0]
    assert os.path.join(root, LABELS_FILE) in warnings[0]


def test_class_without_training_objects_and_unknown_names(tmp_path):
    root = make_voc(str(tmp_path), SPLITS)
    _, warnings = summarize_data(config(
        root, 'data.label_names=[cat, bird]', 'eval.n_images=1'))
    assert warnings == [
        "class 'bird' has no object in the trainval split: the model cannot "
        'learn it and its AP will be n/a; add images of it or remove it '
        'from data.label_names',
        '2 objects of the trainval split have class names that are not '
        'among the 2 classes (dog): their images cannot be used; add the '
        'names to data.label_names or fix the annotations']


def test_eval_n_images_and_unreadable_annotations(tmp_path):
    root = make_voc(str(tmp_path), {'trainval': {'a': [('cat', 0)]},
                                    'test': {'c': [], 'd': [], 'e': []}},
                    labels=['cat'])
    os.remove(os.path.join(root, 'Annotations', 'e.xml'))
    lines, _ = summarize_data(config(root, 'eval.n_images=2'))
    assert lines[3] == (
        'test: 3 images (the first 2 evaluated: eval.n_images), 0 objects, '
        '0 of them difficult; 1 annotation file missing or unreadable, not '
        'counted')


def test_the_unknown_class_warning_names_count_place_and_fix():
    text = unknown_names_warning(collections.Counter({'dog': 2, '': 1}),
                                 'the trainval split', 'class names', 3,
                                 'add the names to labels.txt')
    assert text == ('3 objects of the trainval split have class names that '
                    'are not among the 3 classes ((no name), dog): their '
                    'images cannot be used; add the names to labels.txt')
