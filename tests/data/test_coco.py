"""COCOBboxDataset: COCO instances JSON read as the VOC reader reads VOC;
open_split for both formats; malformed files as one-line errors."""

import json
import os

import numpy
import pytest
from PIL import Image

from fasterrcnn.config import ConfigError, load_config
from fasterrcnn.data.bad_examples import (BadExampleError,
                                          MissingExampleFileError, scan)
from fasterrcnn.data.coco import COCOBboxDataset, COCOFormatError, voc_to_coco
from fasterrcnn.data.datasets import open_split
from fasterrcnn.data.voc import VOCBboxDataset


def write_json(path, data):
    with open(str(path), 'w', encoding='utf-8') as f:
        json.dump(data, f)
    return str(path)


def write_image(path, size=(20, 30)):
    Image.new('RGB', (size[1], size[0]), (10, 20, 30)).save(str(path))


def small_data():
    """Two images of 20 x 30; categories listed out of id order."""
    return {
        'images': [{'id': 5, 'file_name': 'b.png'},
                   {'id': 3, 'file_name': 'a.png'}],
        'categories': [{'id': 9, 'name': 'dog'}, {'id': 2, 'name': 'cat'}],
        'annotations': [
            {'id': 1, 'image_id': 5, 'category_id': 9,
             'bbox': [2, 4, 10, 6], 'iscrowd': 0},
            {'id': 2, 'image_id': 5, 'category_id': 2,
             'bbox': [0.5, 1.5, 3, 4], 'iscrowd': 1},
            {'id': 3, 'image_id': 5, 'category_id': 2,
             'bbox': [20, 10, 20, 20]},   # crosses the right border
        ],
    }


@pytest.fixture
def small(tmp_path):
    for name in ('a.png', 'b.png'):
        write_image(tmp_path / name)
    return str(tmp_path), write_json(tmp_path / 'ann.json', small_data())


def test_boxes_labels_and_crowd_flags(small):
    data_dir, ann = small
    dataset = COCOBboxDataset(data_dir, ann, use_difficult=True,
                              return_difficult=True)
    # Labels follow the category ids (cat = 2, dog = 9), not file order.
    assert dataset.label_names == ('cat', 'dog')
    assert dataset.ids == ['b', 'a'] and len(dataset) == 2
    assert dataset.split == 'ann'
    img, bbox, label, difficult = dataset[0]
    assert img.shape == (3, 20, 30) and img.dtype == numpy.float32
    assert bbox.dtype == numpy.float32 and label.dtype == numpy.int32
    # [x, y, w, h] -> (y, x, y + h - 1, x + w - 1); the third clipped to
    # the last column (29) and row (19).
    numpy.testing.assert_array_equal(bbox, [[4, 2, 9, 11],
                                            [1.5, 0.5, 4.5, 2.5],
                                            [10, 20, 19, 29]])
    numpy.testing.assert_array_equal(label, [1, 0, 0])
    numpy.testing.assert_array_equal(difficult, [False, True, False])
    img, bbox, label, difficult = dataset[1]   # no annotations
    assert bbox.shape == (0, 4) and label.shape == (0,)

    # Training: crowd objects left out, no flags.
    train = COCOBboxDataset(data_dir, ann)
    img, bbox, label = train[0]
    numpy.testing.assert_array_equal(label, [1, 0])
    assert scan(train) == []


def test_given_label_names_reorder(small):
    data_dir, ann = small
    dataset = COCOBboxDataset(data_dir, ann, label_names=['dog', 'cat'])
    numpy.testing.assert_array_equal(dataset[0][2], [0, 1])
    other = COCOBboxDataset(data_dir, ann, label_names=['dog', 'bird'])
    with pytest.raises(BadExampleError) as e:
        other.check_example(0)
    message = str(e.value)
    assert message.startswith(ann + ': annotation 2 (\'cat\') of b.png')
    assert 'not among the 2 label names (dog, bird)' in message
    assert '\n' not in message


def test_a_coco_copy_of_voc_data_gives_the_voc_boxes(data_dir, tmp_path):
    for split in ('trainval', 'test'):
        path = write_json(tmp_path / (split + '.json'),
                          voc_to_coco(data_dir, split))
        voc = VOCBboxDataset(data_dir, split, use_difficult=True,
                             return_difficult=True)
        coco = COCOBboxDataset(data_dir, path, use_difficult=True,
                               return_difficult=True)
        assert coco.ids == voc.ids
        assert coco.label_names == voc.label_names
        for i in range(len(voc)):
            for a, b in zip(coco[i], voc[i]):
                assert a.dtype == b.dtype
                numpy.testing.assert_array_equal(a, b)


def test_official_layout_finds_the_image_folder(tmp_path):
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'val2017').mkdir()
    write_image(tmp_path / 'val2017' / 'a.png')
    data = small_data()
    data['images'] = data['images'][1:]
    data['annotations'] = []
    ann = write_json(tmp_path / 'annotations' / 'instances_val2017.json',
                     data)
    dataset = COCOBboxDataset(str(tmp_path), ann)
    assert dataset.image_dir == os.path.join(str(tmp_path), 'val2017')
    assert dataset[0][0].shape == (3, 20, 30)


def test_missing_image_is_a_bad_example(small, tmp_path):
    data_dir, ann = small
    os.remove(os.path.join(data_dir, 'a.png'))
    dataset = COCOBboxDataset(data_dir, ann)
    with pytest.raises(MissingExampleFileError, match='a.png not found'):
        dataset.check_example(1)
    assert [bad[1] for bad in scan(dataset)] == ['a']


@pytest.mark.parametrize('bbox, what', [
    ([2, 4, -3, 6], 'width -3 and height 6'),
    ([2, 4, 1, 6], 'width 1 and height 6'),
    ([2, 4, 5, 0], 'width 5 and height 0'),
    ([40, 40, 5, 5], 'lies outside the 30x20 image'),
])
def test_bad_boxes_are_bad_examples(tmp_path, bbox, what):
    write_image(tmp_path / 'a.png')
    data = small_data()
    data['images'] = [{'id': 1, 'file_name': 'a.png'}]
    data['annotations'] = [{'id': 4, 'image_id': 1, 'category_id': 2,
                            'bbox': bbox}]
    ann = write_json(tmp_path / 'ann.json', data)
    dataset = COCOBboxDataset(str(tmp_path), ann)
    with pytest.raises(BadExampleError) as e:
        dataset.check_example(0)
    message = str(e.value)
    assert message.startswith(ann + ': annotation 4 (\'cat\') of a.png')
    assert what in message and '\n' not in message


def _drop(key):
    def change(data):
        del data[key]
    return change


def _set(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


@pytest.mark.parametrize('change, what', [
    (_drop('images'), '"images" is missing; expected a list'),
    (_set(['images'], {}), '"images" is a dict; expected a list'),
    (_drop('categories'), '"categories" is missing'),
    (_set(['categories'], []), '"categories" is empty'),
    (_set(['images', 0], 3), 'images[0] is a int; expected an object'),
    (_set(['images', 1, 'id'], 5), 'images[1] repeats image id 5'),
    (_set(['images', 1, 'file_name'], 'b.png'),
     'images[1] repeats file name \'b.png\''),
    (_set(['images', 1, 'file_name'], '../x.png'),
     'expected a path inside the image folder'),
    (_set(['images', 1, 'id'], '3'), 'images[1] has "id": "3"; expected an '
                                     'integer'),
    (_set(['categories', 1, 'id'], 9), 'categories[1] repeats category id 9'),
    (_set(['annotations', 0, 'image_id'], 77),
     'annotations[0] has image_id 77, which no entry of "images" has'),
    (_set(['annotations', 1, 'category_id'], 4),
     'annotations[1] has category_id 4, which is not in "categories"'),
    (_set(['annotations', 2, 'bbox'], [1, 2, 3]),
     'annotations[2] has "bbox": [1, 2, 3]; expected a list of 4 numbers'),
    (_set(['annotations', 2, 'bbox'], [1, 2, 3, '4']),
     'expected a list of 4 numbers'),
    (_set(['annotations', 0, 'iscrowd'], 2),
     'annotations[0] has "iscrowd": 2; expected 0 or 1'),
    (lambda data: data['annotations'][0].pop('bbox'),
     'annotations[0] has no "bbox"'),
])
def test_malformed_files_are_one_line_errors(small, change, what):
    data_dir, ann = small
    data = small_data()
    change(data)
    write_json(ann, data)
    with pytest.raises(COCOFormatError) as e:
        COCOBboxDataset(data_dir, ann)
    message = str(e.value)
    assert message.startswith(ann + ': ') and '\n' not in message
    assert what in message


@pytest.mark.parametrize('text, what', [
    ('{"images": [', 'not valid JSON: Expecting value at line 1'),
    ('[1, 2]', 'the top level is a list'),
    (b'\xff\xfe{}', 'not UTF-8 text'),
    ('[' * 100000 + ']' * 100000, 'nested too deeply'),
])
def test_not_json_is_a_one_line_error(tmp_path, text, what):
    path = str(tmp_path / 'ann.json')
    with open(path, 'wb') as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(COCOFormatError) as e:
        COCOBboxDataset(str(tmp_path), path)
    assert str(e.value).startswith(path + ': ')
    assert what in str(e.value) and '\n' not in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='annotation file .* not '
                                                'found'):
        COCOBboxDataset(str(tmp_path), str(tmp_path / 'none.json'))


def config(data_dir, *sets):
    return load_config(None, ['data.dir=' + data_dir] + list(sets))


def test_open_split_both_formats(small, data_dir):
    voc = open_split(config(data_dir), 'test')
    assert isinstance(voc, VOCBboxDataset) and voc.return_difficult
    assert voc.use_difficult and voc.split == 'test'
    voc = open_split(config(data_dir), 'train')
    assert voc.split == 'trainval' and not voc.return_difficult
    assert not voc.use_difficult

    small_dir, ann = small
    # A relative annotation path is relative to data.dir.
    cfg = config(small_dir, 'data.format=coco',
                 'data.train_annotations=ann.json',
                 'data.test_annotations=' + ann, 'data.use_difficult=true')
    train = open_split(cfg, 'train')
    assert isinstance(train, COCOBboxDataset)
    assert train.annotations == ann and train.use_difficult
    assert not train.return_difficult
    test = open_split(cfg, 'test')
    assert test.return_difficult and test.use_difficult
    with pytest.raises(ConfigError, match='data.format is coco but '
                                          'data.test_annotations is not '
                                          'set'):
        open_split(config(small_dir, 'data.format=coco'), 'test')
