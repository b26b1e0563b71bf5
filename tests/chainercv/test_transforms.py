"""chainercv-compatible resize, flip, random_flip, resize_bbox, flip_bbox."""

import random

import numpy
import pytest
from PIL import Image

from fasterrcnn.chainercv.transforms import (flip, flip_bbox, random_flip,
                                             resize, resize_bbox)


def pil_resize(channel, size, resample):
    """One (H, W) float32 channel resized by Pillow directly."""
    out_h, out_w = size
    pil = Image.fromarray(channel.astype(numpy.float32))
    return numpy.asarray(pil.resize((out_w, out_h), resample=resample))


@pytest.mark.parametrize('interpolation', [
    Image.NEAREST, Image.BILINEAR, Image.BICUBIC, Image.LANCZOS])
@pytest.mark.parametrize('size', [(5, 9), (13, 3), (1, 1)])
def test_resize_equals_pillow_per_channel(interpolation, size):
    rng = numpy.random.RandomState(0)
    img = rng.uniform(0, 255, size=(3, 7, 6)).astype(numpy.float32)
    out = resize(img, size, interpolation=interpolation)
    assert out.shape == (3,) + size
    assert out.dtype == numpy.float32
    for channel, out_channel in zip(img, out):
        numpy.testing.assert_array_equal(
            out_channel, pil_resize(channel, size, interpolation))


def test_resize_default_is_bilinear_and_input_untouched():
    rng = numpy.random.RandomState(1)
    img = rng.uniform(0, 255, size=(2, 4, 5)).astype(numpy.float32)
    before = img.copy()
    numpy.testing.assert_array_equal(
        resize(img, (8, 3)), resize(img, (8, 3), Image.BILINEAR))
    numpy.testing.assert_array_equal(img, before)


def test_resize_one_pixel_and_constant():
    img = numpy.array([[[42.]]], dtype=numpy.float32)
    out = resize(img, (3, 4))
    numpy.testing.assert_allclose(out, numpy.full((1, 3, 4), 42.), rtol=1e-6)
    const = numpy.full((2, 5, 6), 7, dtype=numpy.float32)
    numpy.testing.assert_allclose(resize(const, (2, 11)), 7, rtol=1e-6)


def test_resize_keeps_dtype():
    rng = numpy.random.RandomState(2)
    img = rng.uniform(0, 255, size=(1, 4, 4))
    out64 = resize(img, (6, 2))
    assert out64.dtype == numpy.float64
    # Pillow's 'F' images are float32: the float64 result is that, widened.
    numpy.testing.assert_array_equal(
        out64[0], pil_resize(img[0], (6, 2), Image.BILINEAR))
    as_uint8 = numpy.array([[[0, 255], [255, 0]]], dtype=numpy.uint8)
    out8 = resize(as_uint8, (4, 4), Image.BICUBIC)
    assert out8.dtype == numpy.uint8
    expected = pil_resize(as_uint8[0], (4, 4), Image.BICUBIC)
    numpy.testing.assert_array_equal(
        out8[0], numpy.clip(numpy.rint(expected), 0, 255))


def test_resize_no_channels_and_errors():
    empty = numpy.zeros((0, 4, 5), dtype=numpy.float32)
    out = resize(empty, (2, 3))
    assert out.shape == (0, 2, 3) and out.dtype == numpy.float32
    img = numpy.zeros((1, 4, 5), dtype=numpy.float32)
    with pytest.raises(ValueError, match='interpolation'):
        resize(img, (2, 3), interpolation=Image.BOX)
    with pytest.raises(ValueError, match='>= 1'):
        resize(img, (0, 3))


def test_flip_views_and_copies():
    img = numpy.arange(2 * 3 * 4, dtype=numpy.float32).reshape(2, 3, 4)
    same = flip(img)
    assert same is img
    y = flip(img, y_flip=True)
    numpy.testing.assert_array_equal(y, img[:, ::-1, :])
    assert numpy.shares_memory(y, img)  # a view, as chainercv
    x = flip(img, x_flip=True)
    numpy.testing.assert_array_equal(x[:, :, 0], img[:, :, -1])
    both = flip(img, y_flip=True, x_flip=True, copy=True)
    numpy.testing.assert_array_equal(both, img[:, ::-1, ::-1])
    assert not numpy.shares_memory(both, img) and both.flags.c_contiguous
    numpy.testing.assert_array_equal(
        flip(flip(img, True, True), True, True), img)
    with pytest.raises(AssertionError):
        flip(img[0], x_flip=True)


def test_random_flip_follows_python_random():
    img = numpy.arange(2 * 3 * 4, dtype=numpy.float32).reshape(2, 3, 4)
    random.seed(3)
    expected_y = random.choice([True, False])
    expected_x = random.choice([True, False])
    random.seed(3)
    out, param = random_flip(img, y_random=True, x_random=True,
                             return_param=True)
    assert param == {'y_flip': expected_y, 'x_flip': expected_x}
    numpy.testing.assert_array_equal(
        out, flip(img, y_flip=expected_y, x_flip=expected_x))
    # Nothing random asked for: no draw, no flip, the same array.
    state = random.getstate()
    out, param = random_flip(img, return_param=True)
    assert out is img and param == {'y_flip': False, 'x_flip': False}
    assert random.getstate() == state
    # Both outcomes happen; copy gives a contiguous array.
    seen = set()
    for _ in range(50):
        out, param = random_flip(img, x_random=True, return_param=True,
                                 copy=True)
        assert out.flags.c_contiguous
        seen.add(param['x_flip'])
    assert seen == {True, False}
    assert isinstance(random_flip(img, x_random=True), numpy.ndarray)


def test_resize_bbox_values_and_dtypes():
    bbox = numpy.array([[10, 20, 30, 50]], dtype=numpy.float32)
    out = resize_bbox(bbox, (60, 80), (30, 160))
    assert out.dtype == numpy.float32
    numpy.testing.assert_array_equal(out, [[5, 40, 15, 100]])
    assert bbox[0, 0] == 10
    out64 = resize_bbox(bbox.astype(numpy.float64), (3, 3), (1, 1))
    assert out64.dtype == numpy.float64
    # float64 arithmetic throughout: x * (1 / 3), as chainercv computes it.
    numpy.testing.assert_array_equal(
        out64, bbox.astype(numpy.float64) * (1 / 3))
    # Integer boxes are not truncated (chainercv would keep int64).
    out_int = resize_bbox(numpy.array([[1, 1, 2, 3]]), (2, 2), (3, 3))
    assert out_int.dtype == numpy.float64
    numpy.testing.assert_array_equal(out_int, [[1.5, 1.5, 3, 4.5]])
    empty = resize_bbox(numpy.zeros((0, 4), numpy.float32), (2, 2), (4, 4))
    assert empty.shape == (0, 4) and empty.dtype == numpy.float32


def test_flip_bbox_each_direction():
    bbox = numpy.array([[1, 1, 3, 4]], dtype=numpy.float32)
    size = (10, 8)
    # Neither flip by default, as chainercv.
    numpy.testing.assert_array_equal(flip_bbox(bbox, size), bbox)
    numpy.testing.assert_array_equal(
        flip_bbox(bbox, size, y_flip=True), [[7, 1, 9, 4]])
    numpy.testing.assert_array_equal(
        flip_bbox(bbox, size, x_flip=True), [[1, 4, 3, 7]])
    numpy.testing.assert_array_equal(
        flip_bbox(bbox, size, True, True), [[7, 4, 9, 7]])
    out = flip_bbox(bbox, size, y_flip=True)
    assert out is not bbox and bbox[0, 0] == 1


def test_flip_bbox_twice_is_identity_and_dtypes():
    rng = numpy.random.RandomState(4)
    size = (9, 7)
    for dtype in (numpy.float32, numpy.float64):
        bbox = (rng.randint(0, 28, size=(5, 4)) / 4).astype(dtype)
        for y_flip, x_flip in ((True, False), (False, True), (True, True)):
            once = flip_bbox(bbox, size, y_flip=y_flip, x_flip=x_flip)
            assert once.dtype == dtype
            numpy.testing.assert_array_equal(
                flip_bbox(once, size, y_flip=y_flip, x_flip=x_flip), bbox)
    out = flip_bbox(numpy.array([[0, 1, 2, 3]]), (4, 4), x_flip=True)
    assert out.dtype == numpy.float64
    numpy.testing.assert_array_equal(out, [[0, 1, 2, 3]])
    empty = flip_bbox(numpy.zeros((0, 4), numpy.float32), size, True, True)
    assert empty.shape == (0, 4) and empty.dtype == numpy.float32


def test_box_follows_flipped_image():
    img = numpy.zeros((1, 10, 8), dtype=numpy.float32)
    img[0, 1:3, 1:4] = 1  # box (1, 1, 3, 4) as continuous coordinates
    bbox = numpy.array([[1, 1, 3, 4]], dtype=numpy.float32)
    for y_flip, x_flip in ((True, False), (False, True), (True, True)):
        flipped = flip(img, y_flip=y_flip, x_flip=x_flip)
        y_min, x_min, y_max, x_max = flip_bbox(
            bbox, (10, 8), y_flip=y_flip, x_flip=x_flip)[0].astype(int)
        assert flipped[0, y_min:y_max, x_min:x_max].all()
        assert flipped.sum() == 6
