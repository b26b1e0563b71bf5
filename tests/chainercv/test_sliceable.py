"""chainercv's sliceable data sets
(fasterrcnn.chainercv.chainer_experimental.datasets.sliceable) and the
sliceable VOCBboxDataset: views that read only the values they keep."""

import os
import shutil
import sys

import numpy
import pytest
from chainer.iterators import SerialIterator
from PIL import Image

from fasterrcnn.chainercv.alias import install_alias
from fasterrcnn.chainercv.chainer_experimental.datasets.sliceable import (
    ConcatenatedDataset, GetterDataset, SliceableDataset, TransformDataset,
    TupleDataset)
from fasterrcnn.chainercv.datasets import VOCBboxDataset, voc_bbox_label_names
from fasterrcnn.data.bad_examples import BadExampleError
from tests.chainercv import tiny_voc


class Sample(GetterDataset):
    """Ten examples of four values: 'a' from one getter, 'b' and 'c' from
    another, 'd' from a getter of a 1-tuple; counts the getters' calls."""

    def __init__(self):
        super(Sample, self).__init__()
        self.add_getter('a', self._a)
        self.add_getter(('b', 'c'), self._bc)
        self.add_getter(('d',), self._d)
        self.calls = []

    def __len__(self):
        return 10

    def _a(self, i):
        self.calls.append(('a', i))
        return 'a{}'.format(i)

    def _bc(self, i):
        self.calls.append(('bc', i))
        return 'b{}'.format(i), 'c{}'.format(i)

    def _d(self, i):
        self.calls.append(('d', i))
        return ('d{}'.format(i),)


def test_getter_dataset_examples_and_keys():
    dataset = Sample()
    assert isinstance(dataset, SliceableDataset)
    assert dataset.keys == ('a', 'b', 'c', 'd')
    assert len(dataset) == 10
    assert dataset[3] == ('a3', 'b3', 'c3', 'd3')
    # Each getter once per example.
    assert sorted(dataset.calls) == [('a', 3), ('bc', 3), ('d', 3)]
    assert list(dataset)[5] == ('a5', 'b5', 'c5', 'd5')
    assert dataset[1:3] == [('a1', 'b1', 'c1', 'd1'), ('a2', 'b2', 'c2', 'd2')]


@pytest.mark.parametrize('indices,expected', [
    (slice(None), list(range(10))),
    (slice(3, 8, 2), [3, 5, 7]),
    (slice(-3, None), [7, 8, 9]),
    (slice(None, None, -4), [9, 5, 1]),
    ([2, 1, 5], [2, 1, 5]),
    ([], []),
    (numpy.array([4, 0]), [4, 0]),
    ([False, True, False, False, True, True, False, False, True, False],
     [1, 4, 5, 8]),
    (numpy.arange(10) % 3 == 0, [0, 3, 6, 9]),
])
def test_slice_examples(indices, expected):
    view = Sample().slice[indices]
    assert isinstance(view, SliceableDataset)
    assert len(view) == len(expected)
    assert view.keys == ('a', 'b', 'c', 'd')
    assert [example[0] for example in view] == [
        'a{}'.format(i) for i in expected]


def test_slice_examples_errors():
    dataset = Sample()
    with pytest.raises(ValueError, match='booleans'):
        dataset.slice[[True, False]]
    # chainercv takes no single index either: dataset[i] is one example.
    with pytest.raises(TypeError, match=r'dataset\[i\]'):
        dataset.slice[3]
    with pytest.raises(IndexError):
        dataset.slice[[1, 2]][2]


@pytest.mark.parametrize('keys,expected_keys', [
    (('a', 'c'), ('a', 'c')),
    (['c', 'a'], ('c', 'a')),
    ((0, 2), ('a', 'c')),
    (('a', -1), ('a', 'd')),
    ([True, False, True, False], ('a', 'c')),
    (numpy.array([1, 3]), ('b', 'd')),
    (('b',), ('b',)),
])
def test_slice_keys_as_tuples(keys, expected_keys):
    dataset = Sample()
    view = dataset.slice[:, keys]
    assert view.keys == expected_keys
    assert view[4] == tuple(name + '4' for name in expected_keys)
    assert len(view) == 10


@pytest.mark.parametrize('key,name', [('c', 'c'), (2, 'c'), (-4, 'a')])
def test_slice_a_single_key_gives_the_value_itself(key, name):
    view = Sample().slice[[6, 2], key]
    assert view.keys == name
    assert view[0] == name + '6'
    assert list(view) == [name + '6', name + '2']


def test_slice_reads_only_the_values_kept():
    dataset = Sample()
    view = dataset.slice[:, ('c', 'b')]
    assert view[7] == ('c7', 'b7')
    assert dataset.calls == [('bc', 7)]
    del dataset.calls[:]
    assert dataset.slice[:, 'd'][2] == 'd2'
    assert dataset.calls == [('d', 2)]


def test_slice_key_errors():
    dataset = Sample()
    with pytest.raises(KeyError, match="'img'"):
        dataset.slice[:, 'img']
    with pytest.raises(KeyError):
        dataset.slice[:, ('a', 'nope')]
    with pytest.raises(IndexError):
        dataset.slice[:, 4]
    with pytest.raises(IndexError):
        dataset.slice[:, (0, -5)]
    with pytest.raises(ValueError, match='booleans'):
        dataset.slice[:, (True, False)]


def test_slices_of_slices():
    dataset = Sample()
    view = dataset.slice[2:, ('d', 'b', 'a')].slice[::3, ('a', 0)]
    assert view.keys == ('a', 'd')
    assert list(view) == [('a2', 'd2'), ('a5', 'd5'), ('a8', 'd8')]
    assert dataset.slice[[5, 6, 7]].slice[[True, False, True], 'b'][1] == \
        'b7'


def test_setting_keys():
    dataset = Sample()
    dataset.keys = ('c', 'a')
    assert dataset.keys == ('c', 'a')
    assert dataset[1] == ('c1', 'a1')
    dataset.keys = 1
    assert dataset.keys == 'a'
    assert dataset[2] == 'a2'
    with pytest.raises(KeyError):
        dataset.keys = 'b'


def test_tuple_dataset():
    dataset = TupleDataset(Sample().slice[:, ('a', 'c')], ('x', list(
        range(10))), numpy.arange(10) * 2)
    assert dataset.keys == ('a', 'c', 'x', None)
    assert dataset[3] == ('a3', 'c3', 3, 6)
    assert dataset.slice[:, ['x', 'c']][4] == (4, 'c4')
    assert dataset.slice[[1], 3][0] == 2
    with pytest.raises(ValueError, match='lengths'):
        TupleDataset([1, 2], [1, 2, 3])


def test_transform_dataset():
    def transform(example):
        a, b, c, d = example
        return a + b, d

    dataset = TransformDataset(Sample(), ('ab', 'd'), transform)
    assert dataset.keys == ('ab', 'd')
    assert dataset.slice[:, 'd'][5] == 'd5'
    # Without keys, the first example tells how many values (unnamed).
    dataset = TransformDataset(Sample(), transform)
    assert dataset.keys == (None, None)
    dataset = TransformDataset(Sample(), lambda example: example[2])
    assert dataset.keys is None
    assert dataset[3] == 'c3'
    dataset = TransformDataset(Sample(), 'a', lambda example: example[0])
    assert dataset.keys == 'a'
    assert dataset[4] == 'a4'


def test_concatenated_dataset():
    first, second = Sample().slice[:3], Sample().slice[7:]
    dataset = ConcatenatedDataset(first, second)
    assert len(dataset) == 6 and dataset.keys == first.keys
    assert [example[0] for example in dataset] == [
        'a0', 'a1', 'a2', 'a7', 'a8', 'a9']
    assert dataset.slice[[1, 4], 'b'][1] == 'b8'
    assert dataset[-1][0] == 'a9'
    with pytest.raises(IndexError):
        dataset[6]
    with pytest.raises(ValueError, match='keys'):
        ConcatenatedDataset(first, Sample().slice[:, ('a',)])


@pytest.fixture
def voc_dir(tmp_path):
    return tiny_voc.write_tiny_voc(str(tmp_path / 'VOC2007'))


def test_voc_keys(voc_dir):
    assert VOCBboxDataset(voc_dir, split='test', year='2007').keys == (
        'img', 'bbox', 'label')
    dataset = VOCBboxDataset(voc_dir, split='test', year='2007',
                             return_difficult=True)
    assert dataset.keys == ('img', 'bbox', 'label', 'difficult')
    assert len(dataset[0]) == 4


def test_voc_slices_match_the_examples(voc_dir):
    dataset = VOCBboxDataset(voc_dir, split='test', year='2007',
                             use_difficult=True, return_difficult=True)
    view = dataset.slice[[4, 0], ('label', 'img', 'difficult')]
    assert len(view) == 2
    for (label, img, difficult), i in zip(view, [4, 0]):
        full_img, _, full_label, full_difficult = dataset[i]
        numpy.testing.assert_array_equal(img, full_img)
        numpy.testing.assert_array_equal(label, full_label)
        numpy.testing.assert_array_equal(difficult, full_difficult)
        assert img.shape == (3,) + tiny_voc.SIZES[i]
        numpy.testing.assert_allclose(img[:, 3, 3], tiny_voc.colour(i),
                                      atol=3)
    labels = dataset.slice[:, 'label']
    assert labels.keys == 'label'
    for i, label in enumerate(labels):
        assert label.dtype == numpy.int32
        numpy.testing.assert_array_equal(
            label, tiny_voc.annotation(i, use_difficult=True)[1])


def test_voc_slice_without_img_opens_no_image(voc_dir, monkeypatch):
    dataset = VOCBboxDataset(voc_dir, split='test', year='2007',
                             return_difficult=True)

    def refuse(*args, **kwargs):
        raise AssertionError('an image was opened')

    # Pillow opens every image the package reads: a whole example now
    # fails. And then the image files are gone too.
    monkeypatch.setattr(Image, 'open', refuse)
    with pytest.raises(AssertionError, match='an image was opened'):
        dataset[0]
    shutil.rmtree(os.path.join(voc_dir, 'JPEGImages'))
    view = dataset.slice[:, ['bbox', 'label']]
    for i, (bbox, label) in enumerate(view):
        expected_bbox, expected_label, _ = tiny_voc.annotation(i)
        assert bbox.dtype == numpy.float32
        numpy.testing.assert_array_equal(bbox, expected_bbox)
        numpy.testing.assert_array_equal(label, expected_label)
    # Difficult objects left out, as in the examples.
    difficult = list(dataset.slice[:, 'difficult'])
    assert [len(d) for d in difficult] == [1, 2, 1, 1, 2]
    assert not any(d.any() for d in difficult)
    # chainercv's tutorial: a subset chosen by labels, with no image read.
    cat = voc_bbox_label_names.index('cat')
    with_cats = dataset.slice[[cat in label for label in
                               dataset.slice[:, 'label']]]
    assert len(with_cats) == 2
    assert with_cats.slice[:, 'label'][1].tolist() == [cat, cat]
    with pytest.raises(BadExampleError, match='not found'):
        with_cats.slice[:, 'img'][0]


def test_voc_boxes_are_clipped_only_with_the_image(voc_dir):
    dataset = VOCBboxDataset(voc_dir, split='test', year='2007')
    # Image 2's bird ends at column 33 (0-based), past the 30 columns.
    _, bbox, _ = dataset[2]
    numpy.testing.assert_array_equal(bbox, [[2, 9, 14, 29]])
    numpy.testing.assert_array_equal(dataset.slice[:, 'bbox'][2],
                                     [[2, 9, 14, 33]])
    numpy.testing.assert_array_equal(dataset.slice[:, ('img', 'bbox')][2][1],
                                     [[2, 9, 14, 29]])


def test_voc_slice_in_an_iterator(voc_dir):
    dataset = VOCBboxDataset(voc_dir, split='test', year='2007')
    iterator = SerialIterator(dataset.slice[1:, ('img', 'label')], 3,
                              repeat=False, shuffle=False)
    batches = list(iterator)
    assert [len(batch) for batch in batches] == [3, 1]
    assert batches[1][0][0].shape == (3,) + tiny_voc.SIZES[4]


def test_sliceable_names_through_the_alias():
    name = 'cv_alias_sliceable'
    try:
        install_alias(name)
        module = __import__(
            name + '.chainer_experimental.datasets.sliceable',
            fromlist=['GetterDataset'])
        assert module.GetterDataset is GetterDataset
        assert module.TupleDataset is TupleDataset
        utils = sys.modules[name + '.utils']
        assert utils.apply_to_iterator.__module__ == \
            'fasterrcnn.chainercv.utils.iterator.apply_to_iterator'
        assert name + '.utils.iterator.progress_hook' in sys.modules
    finally:
        for key in [key for key in sys.modules
                    if key.split('.')[0] == name]:
            del sys.modules[key]
