"""Padding images into one array, and the training converter
(fasterrcnn/data/batch.py)."""

import numpy
import pytest

from fasterrcnn.data.batch import concat_detection_examples, pad_images


def test_pad_images_keeps_each_image_top_left():
    a = numpy.ones((3, 2, 5), numpy.float32)
    b = numpy.full((3, 4, 3), 2, numpy.float32)
    batch, sizes = pad_images([a, b])
    assert batch.shape == (2, 3, 4, 5) and batch.dtype == numpy.float32
    assert sizes.tolist() == [[2, 5], [4, 3]]
    numpy.testing.assert_array_equal(batch[0, :, :2, :5], a)
    numpy.testing.assert_array_equal(batch[1, :, :4, :3], b)
    assert batch[0, :, 2:].sum() == 0 and batch[1, :, :, 3:].sum() == 0
    with pytest.raises(ValueError, match='no image'):
        pad_images([])


def test_converter_keeps_per_image_boxes():
    examples = [
        (numpy.ones((3, 4, 6), numpy.float32),
         numpy.array([[0, 0, 2, 2]], numpy.float32),
         numpy.array([1], numpy.int32), 1.5),
        (numpy.ones((3, 5, 2), numpy.float32),
         numpy.zeros((0, 4), numpy.float32), numpy.zeros(0, numpy.int32),
         2.0),
    ]
    imgs, bboxes, labels, scales, sizes = concat_detection_examples(examples)
    assert imgs.shape == (2, 3, 5, 6)
    assert [b.shape for b in bboxes] == [(1, 4), (0, 4)]
    assert [lab.tolist() for lab in labels] == [[1], []]
    assert scales.tolist() == [1.5, 2.0]
    assert sizes.tolist() == [[4, 6], [5, 2]]
