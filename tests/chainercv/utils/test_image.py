"""chainercv-compatible read_image on tiny hand-made image files."""

import io

import numpy
import pytest
from PIL import Image

from fasterrcnn.chainercv.utils.image import read_image, write_image


def save(tmp_path, name, array):
    """``array`` (uint8 HW, HW3 or HW4) written to tmp_path / name."""
    path = str(tmp_path / name)
    Image.fromarray(array).save(path)
    return path


RGB = numpy.array([[[255, 0, 0], [0, 255, 0]],
                   [[0, 0, 255], [10, 20, 30]]], dtype=numpy.uint8)


def test_rgb_png_chw(tmp_path):
    path = save(tmp_path, 'rgb.png', RGB)
    img = read_image(path)
    assert img.shape == (3, 2, 2) and img.dtype == numpy.float32
    numpy.testing.assert_array_equal(img, RGB.transpose(2, 0, 1))
    as_uint8 = read_image(path, dtype=numpy.uint8)
    assert as_uint8.dtype == numpy.uint8
    numpy.testing.assert_array_equal(as_uint8, RGB.transpose(2, 0, 1))


def test_grayscale(tmp_path):
    gray = numpy.array([[0, 128, 255]], dtype=numpy.uint8)
    path = save(tmp_path, 'gray.png', gray)
    # color=True: three equal channels.
    img = read_image(path)
    assert img.shape == (3, 1, 3)
    for channel in img:
        numpy.testing.assert_array_equal(channel, gray)
    img = read_image(path, color=False)
    assert img.shape == (1, 1, 3) and img.dtype == numpy.float32
    numpy.testing.assert_array_equal(img[0], gray)
    # An RGB file read as grayscale: Pillow's 'L' conversion.
    path = save(tmp_path, 'rgb.png', RGB)
    img = read_image(path, color=False)
    expected = numpy.asarray(Image.open(path).convert('L'))
    numpy.testing.assert_array_equal(img[0], expected)


def test_one_pixel_jpeg_and_file_object(tmp_path):
    pixel = numpy.full((1, 1, 3), 128, dtype=numpy.uint8)
    path = save(tmp_path, 'one.jpg', pixel)
    img = read_image(path)
    assert img.shape == (3, 1, 1)
    numpy.testing.assert_allclose(img[:, 0, 0], 128, atol=2)
    with open(path, 'rb') as f:
        numpy.testing.assert_array_equal(read_image(f), img)
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, format='PNG')
    buffer.seek(0)
    numpy.testing.assert_array_equal(read_image(buffer),
                                     RGB.transpose(2, 0, 1))


def test_alpha(tmp_path):
    rgba = numpy.array([[[200, 100, 0, 255], [200, 100, 0, 0]]],
                       dtype=numpy.uint8)
    path = save(tmp_path, 'rgba.png', rgba)
    with pytest.raises(ValueError, match='rgba.png.*alpha'):
        read_image(path)
    img = read_image(path, alpha='ignore')
    assert img.shape == (3, 1, 2)
    numpy.testing.assert_array_equal(img[:, 0, 1], (200, 100, 0))
    white = read_image(path, alpha='blend_with_white')
    assert white.dtype == numpy.float32
    numpy.testing.assert_array_equal(white[:, 0, 0], (200, 100, 0))
    numpy.testing.assert_array_equal(white[:, 0, 1], (255, 255, 255))
    black = read_image(path, alpha='blend_with_black')
    numpy.testing.assert_array_equal(black[:, 0, 1], (0, 0, 0))
    # Grayscale drops the alpha channel without asking.
    assert read_image(path, color=False).shape == (1, 1, 2)
    with pytest.raises(ValueError, match='alpha must be'):
        read_image(path, alpha='blend')


def test_missing_and_bad_files(tmp_path):
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(FileNotFoundError) as info:
        read_image(missing)
    assert missing in str(info.value) and '\n' not in str(info.value)

    text = tmp_path / 'text.jpg'
    text.write_text('not an image\nat all\n')
    with pytest.raises(OSError) as info:
        read_image(str(text))
    assert str(text) in str(info.value) and '\n' not in str(info.value)

    # A PNG cut short: Pillow opens it but cannot decode it.
    buffer = io.BytesIO()
    noise = numpy.random.RandomState(0).randint(0, 256, (64, 64, 3))
    Image.fromarray(noise.astype(numpy.uint8)).save(buffer, format='PNG')
    cut = tmp_path / 'cut.png'
    cut.write_bytes(buffer.getvalue()[:200])
    with pytest.raises(OSError) as info:
        read_image(str(cut))
    assert str(cut) in str(info.value) and '\n' not in str(info.value)


@pytest.mark.parametrize('channels', [1, 3])
def test_write_image_round_trip(tmp_path, channels):
    rng = numpy.random.RandomState(channels)
    img = rng.randint(0, 256, (channels, 5, 7)).astype(numpy.float32)
    path = str(tmp_path / 'out.png')
    write_image(img, path)
    numpy.testing.assert_array_equal(
        read_image(path, color=channels == 3), img)


def test_write_image_bad_shape(tmp_path):
    with pytest.raises(ValueError, match=r'\(3, H, W\)'):
        write_image(numpy.zeros((2, 4, 4)), str(tmp_path / 'x.png'))
