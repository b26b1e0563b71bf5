"""VOCBboxDataset on small hand-written VOC folders."""

import os

import numpy
import pytest
from PIL import Image

from fasterrcnn.data.voc import VOC_BBOX_LABEL_NAMES, VOCBboxDataset


def obj(name, xmin, ymin, xmax, ymax, difficult=None, extra=''):
    """One <object> element; coordinates are written as given (1-based)."""
    diff = '' if difficult is None else \
        '<difficult>{}</difficult>'.format(difficult)
    return ('<object><name>{}</name>{}{}<bndbox><xmin>{}</xmin>'
            '<ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox>'
            '</object>').format(name, diff, extra, xmin, ymin, xmax, ymax)


def annotation(*objects):
    return ('<annotation><filename>x.jpg</filename><size><width>32</width>'
            '<height>24</height><depth>3</depth></size>{}</annotation>'
            .format(''.join(objects)))


def write_voc(root, annotations, split='trainval', labels=None,
              size=(24, 32), color=(200, 30, 90)):
    """A VOC folder: one XML and one uniform JPEG per id, one split file."""
    for folder in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    for image_id, text in annotations.items():
        with open(os.path.join(root, 'Annotations', image_id + '.xml'),
                  'w') as f:
            f.write(text)
        Image.new('RGB', (size[1], size[0]), color).save(
            os.path.join(root, 'JPEGImages', image_id + '.jpg'), quality=95)
    with open(os.path.join(root, 'ImageSets', 'Main', split + '.txt'),
              'w') as f:
        f.write(''.join(i + '\n' for i in annotations))
    if labels is not None:
        with open(os.path.join(root, 'labels.txt'), 'w') as f:
            f.write(''.join(name + '\n' for name in labels))
    return str(root)


def test_label_names():
    assert len(VOC_BBOX_LABEL_NAMES) == 20
    assert VOC_BBOX_LABEL_NAMES[0] == 'aeroplane'
    assert VOC_BBOX_LABEL_NAMES[14] == 'person'
    assert VOC_BBOX_LABEL_NAMES[-1] == 'tvmonitor'
    assert len(set(VOC_BBOX_LABEL_NAMES)) == 20


def test_example_boxes_labels_and_image(tmp_path):
    root = write_voc(tmp_path, {'000001': annotation(
        obj('dog', 11, 21, 30, 24, difficult=0),
        obj('person', 1, 1, 5, 8,
            extra='<truncated>1</truncated><pose>Left</pose>'))})
    ds = VOCBboxDataset(root)
    assert len(ds) == 1
    assert ds.ids == ['000001']
    assert ds.label_names == VOC_BBOX_LABEL_NAMES
    img, bbox, label = ds[0]
    assert img.shape == (3, 24, 32)
    assert img.dtype == numpy.float32
    # A uniform JPEG decodes to (almost) its colour, channels in RGB order.
    numpy.testing.assert_allclose(img.mean(axis=(1, 2)), (200, 30, 90),
                                  atol=3)
    # (y_min, x_min, y_max, x_max), XML's 1-based values minus 1.
    assert bbox.dtype == numpy.float32
    numpy.testing.assert_array_equal(bbox, [[20, 10, 23, 29], [0, 0, 7, 4]])
    assert label.dtype == numpy.int32
    numpy.testing.assert_array_equal(label, [11, 14])  # dog, person


def test_difficult_dropped_kept_and_returned(tmp_path):
    root = write_voc(tmp_path, {'a': annotation(
        obj('cat', 1, 1, 10, 10, difficult=1),
        obj('cat', 5, 5, 20, 20, difficult=0),
        obj('bus', 2, 3, 4, 5))})  # no <difficult>: not difficult
    img, bbox, label = VOCBboxDataset(root)[0]
    numpy.testing.assert_array_equal(bbox, [[4, 4, 19, 19], [2, 1, 4, 3]])
    numpy.testing.assert_array_equal(label, [7, 5])

    ds = VOCBboxDataset(root, use_difficult=True, return_difficult=True)
    img, bbox, label, difficult = ds[0]
    assert len(bbox) == 3
    assert difficult.dtype == bool
    numpy.testing.assert_array_equal(difficult, [True, False, False])

    # Dropped difficult objects and return_difficult: all flags False.
    _, bbox, _, difficult = VOCBboxDataset(root, return_difficult=True)[0]
    assert len(bbox) == 2 and not difficult.any()


def test_odd_whitespace_extra_tags_and_float_coordinates(tmp_path):
    text = """<?xml version="1.0"?>
<annotation>
  <owner><name>someone</name></owner>
  <object>
    <name>
        horse
    </name>
    <unknown_tag>ignored</unknown_tag>
    <difficult> 0 </difficult>
    <truncated>
      1
    </truncated>
    <part>
      <name>head</name>
      <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>
    </part>
    <bndbox>
      <xmin> 48.0 </xmin>
      <ymin>
        12.5
      </ymin>
      <xmax>100</xmax>
      <ymax>77.0</ymax>
    </bndbox>
  </object>
</annotation>
"""
    root = write_voc(tmp_path, {'b': text})
    ds = VOCBboxDataset(root, return_difficult=True)
    bbox, label, difficult = ds.get_annotation(0)
    # The <part>'s box and the <owner>'s name are not objects.
    numpy.testing.assert_allclose(bbox, [[11.5, 47, 76, 99]])
    numpy.testing.assert_array_equal(label, [12])  # horse
    numpy.testing.assert_array_equal(difficult, [False])


def test_no_objects(tmp_path):
    root = write_voc(tmp_path, {'empty': annotation()})
    img, bbox, label, difficult = VOCBboxDataset(
        root, return_difficult=True)[0]
    assert bbox.shape == (0, 4) and bbox.dtype == numpy.float32
    assert label.shape == (0,) and label.dtype == numpy.int32
    assert difficult.shape == (0,) and difficult.dtype == bool
    assert img.shape == (3, 24, 32)


def test_unknown_class_names_file_and_object(tmp_path):
    root = write_voc(tmp_path, {'c1': annotation(
        obj('cat', 1, 1, 4, 4), obj('unicorn', 1, 1, 4, 4))})
    ds = VOCBboxDataset(root)
    with pytest.raises(ValueError) as e:
        ds.get_annotation(0)
    message = str(e.value)
    assert 'c1.xml' in message
    assert "'unicorn'" in message and 'object 1' in message
    assert 'labels.txt' in message  # says what to do


def test_labels_txt_and_label_names_argument(tmp_path):
    root = write_voc(tmp_path, {'d': annotation(
        obj('zebra', 1, 1, 4, 4), obj('ant', 2, 2, 6, 6))},
        labels=['ant', '', 'zebra  '])  # blank line and spaces tolerated
    ds = VOCBboxDataset(root)
    assert ds.label_names == ('ant', 'zebra')
    numpy.testing.assert_array_equal(ds[0][2], [1, 0])
    # An explicit label_names wins over labels.txt.
    ds = VOCBboxDataset(root, label_names=['zebra', 'ant'])
    numpy.testing.assert_array_equal(ds[0][2], [0, 1])


def test_duplicate_name_in_labels_txt(tmp_path):
    root = write_voc(tmp_path, {'d': annotation()}, labels=['a', 'b', 'a'])
    with pytest.raises(ValueError, match="'a' appears twice"):
        VOCBboxDataset(root)


def test_missing_split_file(tmp_path):
    root = write_voc(tmp_path, {'e': annotation()}, split='trainval')
    with pytest.raises(FileNotFoundError) as e:
        VOCBboxDataset(root, split='test')
    assert os.path.join('ImageSets', 'Main', 'test.txt') in str(e.value)
    assert 'trainval' in str(e.value)  # lists the splits that exist
    with pytest.raises(FileNotFoundError, match='ImageSets'):
        VOCBboxDataset(str(tmp_path / 'nowhere'))


def test_missing_annotation_and_image(tmp_path):
    root = write_voc(tmp_path, {'f': annotation(obj('cat', 1, 1, 4, 4)),
                                'g': annotation()})
    os.remove(os.path.join(root, 'JPEGImages', 'f.jpg'))
    os.remove(os.path.join(root, 'Annotations', 'g.xml'))
    ds = VOCBboxDataset(root)
    # The annotation alone does not need the image.
    bbox, label, _ = ds.get_annotation(0)
    numpy.testing.assert_array_equal(bbox, [[0, 0, 3, 3]])
    with pytest.raises(FileNotFoundError) as e:
        ds[0]
    assert 'f.jpg' in str(e.value) and 'trainval' in str(e.value)
    with pytest.raises(FileNotFoundError, match='g.xml'):
        ds.get_annotation(1)


def test_malformed_xml_and_bad_numbers(tmp_path):
    root = write_voc(tmp_path, {
        'h': '<annotation><object></annotation>',
        'i': annotation(obj('cat', 'ten', 1, 4, 4)),
        'j': annotation(obj('cat', 9, 1, 4, 4)),
        'k': '<annotation><object><name>cat</name></object></annotation>'})
    ds = VOCBboxDataset(root)
    with pytest.raises(ValueError, match='h.xml.*not well-formed'):
        ds.get_annotation(0)
    with pytest.raises(ValueError, match="i.xml.*<xmin>ten</xmin>"):
        ds.get_annotation(1)
    with pytest.raises(ValueError, match='j.xml.*xmax < xmin'):
        ds.get_annotation(2)
    with pytest.raises(ValueError, match='k.xml.*no <bndbox>'):
        ds.get_annotation(3)


def test_split_file_blank_lines_and_second_column(tmp_path):
    root = write_voc(tmp_path, {'m': annotation(), 'n': annotation()})
    with open(os.path.join(root, 'ImageSets', 'Main', 'cat_val.txt'),
              'w') as f:
        f.write('m -1\n\n  n  1\n')
    ds = VOCBboxDataset(root, split='cat_val')
    assert ds.ids == ['m', 'n']


def test_grayscale_jpeg_becomes_rgb(tmp_path):
    root = write_voc(tmp_path, {'gray': annotation()})
    Image.new('L', (32, 24), 77).save(
        os.path.join(root, 'JPEGImages', 'gray.jpg'))
    img = VOCBboxDataset(root)[0][0]
    assert img.shape == (3, 24, 32)
    numpy.testing.assert_allclose(img, 77, atol=2)
