"""chainercv-compatible generate_random_bbox, assert_is_bbox,
assert_is_detection_link and the chainer.testing names passed on."""

import importlib.util
import unittest

import chainer.testing
import numpy
import pytest

from fasterrcnn.chainercv.utils import testing
from fasterrcnn.chainercv.utils.testing import (assert_is_bbox,
                                                assert_is_detection_link,
                                                generate_random_bbox)


def test_generate_random_bbox_draw_order():
    numpy.random.seed(5)
    y_min = numpy.random.uniform(0, 32 - 10, size=3)
    x_min = numpy.random.uniform(0, 48 - 10, size=3)
    height = numpy.random.uniform(2, 10, size=3)
    width = numpy.random.uniform(2, 10, size=3)
    expected = numpy.stack(
        [y_min, x_min, y_min + height, x_min + width], axis=1)
    numpy.random.seed(5)
    bbox = generate_random_bbox(3, (32, 48), 2, 10)
    assert bbox.dtype == numpy.float32 and bbox.shape == (3, 4)
    numpy.testing.assert_array_equal(bbox, expected.astype(numpy.float32))
    assert_is_bbox(bbox, (32, 48))
    lengths = bbox[:, 2:] - bbox[:, :2]
    assert (lengths >= 2 - 1e-5).all() and (lengths < 10 + 1e-5).all()


def test_generate_random_bbox_none():
    bbox = generate_random_bbox(0, (10, 10), 1, 5)
    assert bbox.shape == (0, 4) and bbox.dtype == numpy.float32
    assert_is_bbox(bbox)


def test_assert_is_bbox_accepts():
    assert_is_bbox(numpy.zeros((0, 4), numpy.float32))
    bbox = numpy.array([[0, 0, 1, 1], [2, 3, 10, 8]], numpy.float32)
    assert_is_bbox(bbox)
    assert_is_bbox(bbox, (10, 8))


@pytest.mark.parametrize('bbox, size', [
    ([[0, 0, 1, 1]], None),  # a list, not an array
    (numpy.array([[0, 0, 1, 1]], numpy.float64), None),
    (numpy.array([[0, 0, 1, 1]], numpy.int32), None),
    (numpy.array([0, 0, 1, 1], numpy.float32), None),
    (numpy.zeros((2, 5), numpy.float32), None),
    (numpy.array([[1, 0, 1, 1]], numpy.float32), None),  # y_min == y_max
    (numpy.array([[0, 2, 1, 1]], numpy.float32), None),  # x_min > x_max
    (numpy.array([[-1, 0, 1, 1]], numpy.float32), (4, 4)),
    (numpy.array([[0, -0.5, 1, 1]], numpy.float32), (4, 4)),
    (numpy.array([[0, 0, 5, 1]], numpy.float32), (4, 4)),
    (numpy.array([[0, 0, 1, 4.5]], numpy.float32), (4, 4)),
])
def test_assert_is_bbox_rejects(bbox, size):
    with pytest.raises(AssertionError):
        assert_is_bbox(bbox, size)


class StubLink(object):
    """Answers predict with fixed results and records the images."""

    def __init__(self, result):
        self.result = result
        self.imgs = None

    def predict(self, imgs):
        self.imgs = imgs
        return self.result


def good_result():
    bboxes = [numpy.array([[0, 0, 5, 5], [1, 2, 3, 4]], numpy.float32),
              numpy.zeros((0, 4), numpy.float32)]
    labels = [numpy.array([0, 2], numpy.int32), numpy.zeros(0, numpy.int32)]
    scores = [numpy.array([0.9, 0.4], numpy.float32),
              numpy.zeros(0, numpy.float32)]
    return bboxes, labels, scores


def test_assert_is_detection_link_images_and_pass():
    link = StubLink(good_result())
    numpy.random.seed(7)
    first = numpy.random.randint(0, 256, size=(3, 480, 640))
    second = numpy.random.randint(0, 256, size=(3, 480, 320))
    numpy.random.seed(7)
    assert_is_detection_link(link, 3)
    assert [img.shape for img in link.imgs] == [(3, 480, 640),
                                                (3, 480, 320)]
    assert all(img.dtype == numpy.float32 for img in link.imgs)
    numpy.testing.assert_array_equal(link.imgs[0], first)
    numpy.testing.assert_array_equal(link.imgs[1], second)


def broken(change):
    bboxes, labels, scores = good_result()
    result = {'bboxes': bboxes, 'labels': labels, 'scores': scores}
    change(result)
    return result['bboxes'], result['labels'], result['scores']


@pytest.mark.parametrize('result', [
    good_result()[:2],  # two things, not three
    broken(lambda r: r['bboxes'].pop()),
    broken(lambda r: r['labels'].pop()),
    broken(lambda r: r['scores'].pop()),
    broken(lambda r: r['bboxes'].__setitem__(
        0, r['bboxes'][0].astype(numpy.float64))),
    broken(lambda r: r['labels'].__setitem__(0, [0, 2])),
    broken(lambda r: r['labels'].__setitem__(
        0, r['labels'][0].astype(numpy.int64))),
    broken(lambda r: r['labels'].__setitem__(
        0, r['labels'][0][:, None])),
    broken(lambda r: r['labels'].__setitem__(
        0, numpy.array([0], numpy.int32))),
    broken(lambda r: r['labels'].__setitem__(
        0, numpy.array([0, 3], numpy.int32))),
    broken(lambda r: r['labels'].__setitem__(
        0, numpy.array([-1, 0], numpy.int32))),
    broken(lambda r: r['scores'].__setitem__(
        0, r['scores'][0].astype(numpy.float64))),
    broken(lambda r: r['scores'].__setitem__(0, [0.9, 0.4])),
    broken(lambda r: r['scores'].__setitem__(
        0, r['scores'][0][:1])),
])
def test_assert_is_detection_link_rejects(result):
    with pytest.raises(AssertionError):
        assert_is_detection_link(StubLink(result), 3)


def test_chainer_testing_names():
    assert testing.product is chainer.testing.product
    assert testing.product_dict is chainer.testing.product_dict
    assert testing.run_module is chainer.testing.run_module
    assert testing.product({'a': [1, 2], 'b': [3]}) == [
        {'a': 1, 'b': 3}, {'a': 2, 'b': 3}]


_SEEN = []


@testing.parameterize({'value': 1}, {'value': 2})
class TestParameterizeSetsBeforeSetUp(unittest.TestCase):
    """chainercv's parameterize: setUp sees (and may change) the value."""

    def setUp(self):
        self.doubled = self.value * 2

    def test_value(self):
        assert self.doubled == 2 * self.value
        _SEEN.append(self.value)


def test_parameterize_made_one_class_per_set():
    classes = [name for name in globals()
               if name.startswith('TestParameterizeSetsBeforeSetUp_')]
    assert len(classes) == 2


def test_attr_markers():
    assert testing.attr.slow is chainer.testing.attr.slow
    assert testing.attr.gpu is chainer.testing.attr.gpu

    def needs_mpi():
        pass
    marked = testing.attr.mpi(needs_mpi)
    if importlib.util.find_spec('mpi4py') is None:
        assert marked.__unittest_skip__
    else:
        assert any(mark.name == 'mpi' for mark in marked.pytestmark)


def test_generate_random_bbox_module_path():
    from fasterrcnn.chainercv.utils.testing.generate_random_bbox import \
        generate_random_bbox
    assert generate_random_bbox is testing.generate_random_bbox
