"""Resize, flip, normalisation and the training transform."""

import functools

import numpy
import pytest

from fasterrcnn.data.transforms import (TrainTransform, caffe_normalize,
                                        denormalize, flip, flip_bbox,
                                        get_normalizer, prepare_image, resize,
                                        resize_bbox, scale_size,
                                        torchvision_normalize)


def bright_rectangle(size=(60, 80), box=(10, 20, 30, 50)):
    """A black image with rows box[0]:box[2], columns box[1]:box[3] at 255.

    As a continuous box, (y_min, x_min, y_max, x_max) = box exactly.
    """
    img = numpy.zeros((3,) + size, dtype=numpy.float32)
    y_min, x_min, y_max, x_max = box
    img[:, y_min:y_max, x_min:x_max] = 255
    return img, numpy.array([box], dtype=numpy.float32)


def assert_box_on_rectangle(img, bbox):
    """The box's inside (1 px in) is bright and its outside (1 px out) dark."""
    y_min, x_min, y_max, x_max = numpy.rint(bbox[0]).astype(int)
    inside = img[:, y_min + 1:y_max - 1, x_min + 1:x_max - 1]
    assert inside.size and inside.min() > 200
    outside = img.copy()
    outside[:, max(y_min - 1, 0):y_max + 1, max(x_min - 1, 0):x_max + 1] = 0
    assert outside.max() < 50


def test_resize_hand_computed():
    # Up by 2 along W: output i reads (i + 0.5) / 2 - 0.5 = -0.25, 0.25,
    # 0.75, 1.25; mirrored at the edge pixel centres: 0.25, 0.25, 0.75, 0.75
    # -> 0 + 0.25 * 10, twice, then 0 + 0.75 * 10, twice.
    img = numpy.array([[[0, 10]]], dtype=numpy.float32)
    numpy.testing.assert_allclose(resize(img, (1, 4)),
                                  [[[2.5, 2.5, 7.5, 7.5]]])
    # Down by 2 along H: reads 0.5 and 2.5, the means of pairs.
    img = numpy.array([[[0], [10], [20], [30]]], dtype=numpy.float32)
    numpy.testing.assert_allclose(resize(img, (2, 1)), [[[5], [25]]])


def test_resize_identity_constant_and_dtype():
    rng = numpy.random.RandomState(0)
    img = rng.uniform(0, 255, size=(3, 7, 9)).astype(numpy.float32)
    out = resize(img, (7, 9))
    assert out.dtype == numpy.float32
    numpy.testing.assert_array_equal(out, img)
    const = numpy.full((3, 5, 6), 42, dtype=numpy.float32)
    out = resize(const, (13, 4))
    assert out.shape == (3, 13, 4)
    numpy.testing.assert_allclose(out, 42, rtol=1e-6)
    # A one-pixel image is a constant too.
    numpy.testing.assert_allclose(resize(img[:, :1, :1], (3, 2)),
                                  numpy.broadcast_to(img[:, :1, :1],
                                                     (3, 3, 2)))
    with pytest.raises(ValueError):
        resize(img, (0, 4))


@pytest.mark.parametrize('dtype', [numpy.uint8, numpy.float32,
                                   numpy.float64])
def test_resize_to_the_same_size_is_a_float32_copy(dtype):
    # What the weights 1 and 0 of the interpolation give, as a new array.
    rng = numpy.random.RandomState(1)
    img = rng.uniform(0, 255, size=(3, 6, 5)).astype(dtype)
    out = resize(img, (6, 5))
    assert out.dtype == numpy.float32 and out is not img
    lo, hi = numpy.arange(6), numpy.minimum(numpy.arange(6) + 1, 5)
    weighted = img.astype(numpy.float64)[:, lo] * 1. + \
        img.astype(numpy.float64)[:, hi] * 0.
    numpy.testing.assert_array_equal(out, weighted.astype(numpy.float32))
    out[...] = -1
    assert img.min() >= 0


def test_resize_keeps_box_on_object():
    img, bbox = bright_rectangle()
    for out_size in ((90, 120), (30, 40), (60, 100)):
        out = resize(img, out_size)
        assert out.shape == (3,) + out_size
        assert_box_on_rectangle(out, resize_bbox(bbox, (60, 80), out_size))


def test_resize_bbox_values_and_round_trip():
    bbox = numpy.array([[10, 20, 30, 50], [0, 0, 59, 79]], numpy.float32)
    out = resize_bbox(bbox, (60, 80), (90, 40))
    assert out.dtype == numpy.float32
    numpy.testing.assert_allclose(out, [[15, 10, 45, 25], [0, 0, 88.5, 39.5]])
    numpy.testing.assert_allclose(resize_bbox(out, (90, 40), (60, 80)), bbox,
                                  rtol=1e-6)
    assert bbox[0, 0] == 10  # the input is not modified


def test_flip_image_and_box():
    img, bbox = bright_rectangle()
    flipped = flip(img)
    flipped_bbox = flip_bbox(bbox, (60, 80))
    # x_min' = W - x_max = 30, x_max' = W - x_min = 60.
    numpy.testing.assert_array_equal(flipped_bbox, [[10, 30, 30, 60]])
    assert_box_on_rectangle(flipped, flipped_bbox)
    numpy.testing.assert_array_equal(flipped[:, :, 0], img[:, :, -1])
    assert flipped.flags.c_contiguous


def test_flip_twice_is_identity():
    rng = numpy.random.RandomState(1)
    img = rng.uniform(0, 255, size=(3, 5, 7)).astype(numpy.float32)
    # Pixel and sub-pixel (k / 4) coordinates come back exactly ...
    bbox = (rng.randint(0, 28, size=(4, 4)) / 4).astype(numpy.float32)
    numpy.testing.assert_array_equal(flip(flip(img)), img)
    numpy.testing.assert_array_equal(
        flip_bbox(flip_bbox(bbox, (5, 7)), (5, 7)), bbox)
    # ... any float32 up to rounding of W - x.
    odd = rng.uniform(0, 7, size=(4, 4)).astype(numpy.float32)
    numpy.testing.assert_allclose(
        flip_bbox(flip_bbox(odd, (5, 7)), (5, 7)), odd, atol=1e-6)
    # x_flip=False: equal copies, not the same arrays.
    same = flip(img, x_flip=False)
    numpy.testing.assert_array_equal(same, img)
    assert same is not img
    numpy.testing.assert_array_equal(flip_bbox(bbox, (5, 7), x_flip=False),
                                     bbox)


def test_scale_size():
    # Shorter side to 600: 375 * 1.6 = 600, 500 * 1.6 = 800.
    scale, size = scale_size((375, 500))
    assert scale == pytest.approx(1.6) and size == (600, 800)
    # Longer side capped: min(600 / 100, 1000 / 1000) = 1.
    assert scale_size((100, 1000)) == (1.0, (100, 1000))
    # 281 * (600 / 281) is 599.99999999999989 in floats: rounded to 600 as
    # skimage/scipy (the PyTorch version) do, not truncated to 599;
    # 300 * 600 / 281 = 640.57 -> 641.
    scale, size = scale_size((281, 300))
    assert size == (600, 641)
    assert scale_size((20, 30), min_size=10, max_size=100) == (0.5, (10, 15))


def test_normalizers():
    img = numpy.zeros((3, 1, 2), dtype=numpy.float32)
    img[:, 0, 0] = (255, 0, 127.5)
    img[:, 0, 1] = (10, 20, 30)
    out = torchvision_normalize(img)
    assert out.dtype == numpy.float32
    numpy.testing.assert_allclose(
        out[:, 0, 0], [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224,
                       (0.5 - 0.406) / 0.225], rtol=1e-6)
    out = caffe_normalize(img)
    assert out.dtype == numpy.float32
    # BGR order, BGR mean.
    numpy.testing.assert_allclose(
        out[:, 0, 1], [30 - 102.9801, 20 - 115.9465, 10 - 122.7717],
        rtol=1e-6)
    assert img[0, 0, 1] == 10  # input untouched
    assert get_normalizer('caffe') is caffe_normalize
    assert get_normalizer(None)(img) is img
    with pytest.raises(ValueError, match='unknown normalize'):
        get_normalizer('imagenet')


def test_train_transform_box_follows_object_and_flip_is_random():
    img, bbox = bright_rectangle()
    label = numpy.array([3], dtype=numpy.int32)
    transform = TrainTransform(
        functools.partial(prepare_image, min_size=90, max_size=200,
                          normalize=get_normalizer(None)),
        random_state=numpy.random.RandomState(0))
    flips = []
    for _ in range(20):
        out_img, out_bbox, out_label, scale = transform((img, bbox, label))
        assert out_img.shape == (3, 90, 120)
        assert out_img.dtype == numpy.float32
        assert scale == pytest.approx(1.5)
        numpy.testing.assert_array_equal(out_label, label)
        assert_box_on_rectangle(out_img, out_bbox)
        flips.append(out_bbox[0, 1] != 30)  # unflipped x_min is 20 * 1.5
    assert any(flips) and not all(flips)


def test_train_transform_reproducible_and_normalised():
    img, bbox = bright_rectangle()
    label = numpy.array([0], dtype=numpy.int32)
    runs = []
    for _ in range(2):
        transform = TrainTransform(
            functools.partial(prepare_image, min_size=60, max_size=1000,
                              normalize=get_normalizer('torchvision')),
            numpy.random.RandomState(5))
        runs.append([transform((img, bbox, label)) for _ in range(6)])
    for a, b in zip(*runs):
        numpy.testing.assert_array_equal(a[0], b[0])
        numpy.testing.assert_array_equal(a[1], b[1])
    # Normalised: black pixels become -mean / std.
    numpy.testing.assert_allclose(runs[0][0][0][0, 0, 0], -0.485 / 0.229,
                                  rtol=1e-6)


@pytest.mark.parametrize('normalize', ['torchvision', 'caffe', None])
def test_denormalize_gives_the_rgb_image_back(normalize):
    rgb = numpy.random.RandomState(0).uniform(0, 255, (3, 8, 6)) \
        .astype(numpy.float32)
    back = denormalize(get_normalizer(normalize)(rgb), normalize)
    numpy.testing.assert_allclose(back, rgb, atol=1e-3)
