"""The synthetic shapes data set: determinism, layout, round trip."""

import os

import numpy
import pytest
from PIL import Image

from fasterrcnn.data import shapes
from fasterrcnn.data.voc import VOCBboxDataset


def read_tree(root):
    """Relative path -> bytes of every file under root."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    """Seed 0 written twice and seed 1 once, 4 + 2 images each."""
    root = tmp_path_factory.mktemp('shapes')
    out = {}
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        path = str(root / name)
        out[name] = (path, shapes.generate_shapes(path, 4, 2, seed))
    return out


def test_layout(generated):
    path, annotations = generated['a']
    files = read_tree(path)
    ids = ['{:06d}'.format(i) for i in range(6)]
    assert sorted(files) == sorted(
        ['labels.txt', os.path.join('ImageSets', 'Main', 'trainval.txt'),
         os.path.join('ImageSets', 'Main', 'test.txt')]
        + [os.path.join('JPEGImages', i + '.jpg') for i in ids]
        + [os.path.join('Annotations', i + '.xml') for i in ids])
    assert files['labels.txt'] == b'circle\nsquare\ntriangle\n'
    assert files[os.path.join('ImageSets', 'Main', 'trainval.txt')] == \
        ''.join(i + '\n' for i in ids[:4]).encode()
    assert sorted(annotations) == ids


def test_same_seed_same_bytes_other_seed_differs(generated):
    a = read_tree(generated['a'][0])
    b = read_tree(generated['b'][0])
    c = read_tree(generated['c'][0])
    assert a == b
    assert sorted(a) == sorted(c)
    for name in a:
        if name.startswith('JPEGImages'):
            assert a[name] != c[name], name


def test_round_trip_through_voc_reader(generated):
    path, annotations = generated['a']
    n_objects = 0
    for split, n in (('trainval', 4), ('test', 2)):
        ds = VOCBboxDataset(path, split=split)
        assert len(ds) == n
        assert ds.label_names == shapes.LABEL_NAMES
        for i, image_id in enumerate(ds.ids):
            img, bbox, label = ds[i]
            assert img.shape == (3, 192, 256)
            expected_bbox, expected_label = annotations[image_id]
            numpy.testing.assert_array_equal(bbox, expected_bbox)
            numpy.testing.assert_array_equal(label, expected_label)
            n_objects += len(bbox)
    assert n_objects >= 6


@pytest.mark.parametrize('seed', range(8))
def test_rendered_objects(seed):
    rng = numpy.random.RandomState(seed)
    ex = shapes.render_example(rng)
    height, width = shapes.DEFAULT_SIZE
    assert ex['img'].shape == (height, width, 3)
    assert ex['img'].dtype == numpy.uint8
    bbox, owner = ex['bbox'], ex['owner']
    assert 1 <= len(bbox) <= 4
    assert bbox.dtype == numpy.float32 and ex['label'].dtype == numpy.int32
    sides = bbox[:, 2:] - bbox[:, :2] + 1  # pixels covered, VOC style
    assert (sides >= 32).all() and (sides <= 96).all()
    assert (bbox[:, :2] >= 0).all()
    assert (bbox[:, 2] <= height - 1).all() and (bbox[:, 3] <= width - 1).all()
    for k, (y_min, x_min, y_max, x_max) in enumerate(bbox.astype(int)):
        rows, cols = numpy.nonzero(owner == k)
        # What is visible lies in the box, and at least half is visible.
        assert rows.min() >= y_min and rows.max() <= y_max
        assert cols.min() >= x_min and cols.max() <= x_max
        assert len(rows) >= shapes.MIN_VISIBLE * ex['area'][k]
    # The top object is whole: its pixels span its box exactly.
    rows, cols = numpy.nonzero(owner == len(bbox) - 1)
    numpy.testing.assert_array_equal(
        bbox[-1], [rows.min(), cols.min(), rows.max(), cols.max()])


def test_object_pixels_have_object_colour(tmp_path):
    # What the JPEG shows inside an object is the object's colour (up to
    # shading, noise and compression), so the boxes are on the objects.
    rng = numpy.random.RandomState(3)
    ex = shapes.render_example(rng)
    path = str(tmp_path / 'x.jpg')
    Image.fromarray(ex['img']).save(path, quality=shapes.JPEG_QUALITY,
                                    subsampling=0)
    with Image.open(path) as f:
        img = numpy.asarray(f, dtype=numpy.float64)
    for k in range(len(ex['bbox'])):
        seen = img[ex['owner'] == k].mean(axis=0)
        assert numpy.abs(seen - ex['color'][k]).max() < 25


def test_command_line_and_size(tmp_path, capsys):
    out = str(tmp_path / 'cli')
    shapes.main(['--out', out, '--n-train', '2', '--n-test', '1',
                 '--seed', '7', '--size', '100', '150'])
    assert '3/3 images' in capsys.readouterr().err
    ds = VOCBboxDataset(out, split='test')
    img, bbox, _ = ds[0]
    assert img.shape == (3, 100, 150)
    assert (bbox[:, 2] <= 99).all() and (bbox[:, 3] <= 149).all()
