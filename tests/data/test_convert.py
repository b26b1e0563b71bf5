"""VOC layout <-> COCO JSON (fasterrcnn/data/convert.py, fasterrcnn-convert)
and the COCO start-up summary (fasterrcnn/data/summary_coco.py)."""

import json
import os

import numpy
from PIL import Image

from fasterrcnn.cli import convert_data
from fasterrcnn.config import load_config
from fasterrcnn.data.coco import COCOBboxDataset
from fasterrcnn.data.summary_coco import summarize_coco
from fasterrcnn.data.voc import VOCBboxDataset


def test_voc_to_coco_and_back_reads_the_same(data_dir, tmp_path, capsys):
    coco_json = str(tmp_path / 'trainval.json')
    assert convert_data.main(['voc2coco', data_dir, '--split', 'trainval',
                              '--out', coco_json]) == 0
    assert 'trainval.json: 4 images' in capsys.readouterr().out
    back = str(tmp_path / 'voc')
    assert convert_data.main(['coco2voc', data_dir, coco_json, '--split',
                              'trainval', '--out', back,
                              '--no-progress']) == 0
    original = VOCBboxDataset(data_dir, 'trainval', use_difficult=True,
                              return_difficult=True)
    again = VOCBboxDataset(back, 'trainval', use_difficult=True,
                           return_difficult=True)
    assert again.ids == original.ids
    assert again.label_names == original.label_names   # from labels.txt
    for i in range(len(original)):
        img, bbox, label, difficult = original[i]
        img2, bbox2, label2, difficult2 = again[i]
        numpy.testing.assert_array_equal(bbox2, bbox)
        numpy.testing.assert_array_equal(label2, label)
        numpy.testing.assert_array_equal(difficult2, difficult)
        numpy.testing.assert_array_equal(img2, img)     # JPEG bytes copied


def test_coco_to_voc_re_encodes_other_images_and_checks_labels(tmp_path,
                                                               capsys):
    images = tmp_path / 'images'
    images.mkdir()
    Image.new('RGB', (40, 30), (200, 10, 10)).save(str(images / 'a.png'))
    data = {'images': [{'id': 7, 'file_name': 'a.png', 'width': 40,
                        'height': 30}],
            'annotations': [{'id': 1, 'image_id': 7, 'category_id': 3,
                             'bbox': [2.5, 3, 10, 12], 'iscrowd': 1,
                             'area': 120}],
            'categories': [{'id': 3, 'name': 'cat'}]}
    ann = tmp_path / 'a.json'
    ann.write_text(json.dumps(data))
    out = str(tmp_path / 'voc')
    assert convert_data.main(['coco2voc', str(images), str(ann), '--split',
                              'all', '--out', out, '--no-progress']) == 0
    voc = VOCBboxDataset(out, 'all', use_difficult=True,
                         return_difficult=True)
    img, bbox, label, difficult = voc[0]
    coco = COCOBboxDataset(str(images), str(ann), use_difficult=True)
    numpy.testing.assert_array_equal(bbox, coco[0][1])
    assert label.tolist() == [0] and difficult.tolist() == [True]
    with Image.open(os.path.join(out, 'JPEGImages', 'a.jpg')) as f:
        assert f.format == 'JPEG' and f.size == (40, 30)
    # Another set's names into the same folder: one line, nothing mixed.
    data['categories'][0]['name'] = 'dog'
    ann.write_text(json.dumps(data))
    capsys.readouterr()
    assert convert_data.main(['coco2voc', str(images), str(ann), '--split',
                              'more', '--out', out, '--no-progress']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('fasterrcnn-convert: error:')
    assert 'labels.txt lists other class names than dog' in err[0]


def test_coco_summary_names_categories_labels_and_crowds(tmp_path):
    data = {'images': [{'id': 1, 'file_name': 'a.jpg', 'width': 40,
                        'height': 30},
                       {'id': 2, 'file_name': 'b.jpg', 'width': 40,
                        'height': 30}],
            'annotations': [
                {'id': 1, 'image_id': 1, 'category_id': 5,
                 'bbox': [1, 1, 9, 9], 'iscrowd': 0, 'area': 81},
                {'id': 2, 'image_id': 2, 'category_id': 9,
                 'bbox': [1, 1, 9, 9], 'iscrowd': 1, 'area': 81}],
            'categories': [{'id': 9, 'name': 'zebra'},
                           {'id': 5, 'name': 'ant'}]}
    (tmp_path / 'train.json').write_text(json.dumps(data))
    (tmp_path / 'test.json').write_text(json.dumps(data))
    config = load_config(None, [
        'data.dir={}'.format(tmp_path), 'data.format=coco',
        'data.train_annotations=train.json',
        'data.test_annotations=test.json'])
    lines, warnings = summarize_coco(config)
    text = '\n'.join(lines)
    assert '(COCO format)' in lines[0]
    # Category ids in id order become labels 0, 1, ...
    assert 'category id -> label name: 5 -> 0 ant, 9 -> 1 zebra' in text
    assert 'train ({}): 2 images, 2 objects, 1 of them crowd (left out of ' \
        'training'.format(tmp_path / 'train.json') in text
    assert 'test ({}): 2 images, 2 objects, 1 of them crowd'.format(
        tmp_path / 'test.json') in text
    assert 'objects per class (train / test): ant 1 / 1, zebra 1 / 1' in text
    assert warnings == []
