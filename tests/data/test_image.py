"""Reading image files (fasterrcnn/data/image.py): the pixels as float32 RGB,
the size from the header, and one-line errors naming the file."""

import numpy
import pytest
from PIL import Image

from fasterrcnn.data.bad_examples import (BadExampleError,
                                          MissingExampleFileError)
from fasterrcnn.data.image import read_image, read_image_size


@pytest.mark.parametrize('mode', ['RGB', 'L', 'RGBA', 'P'])
def test_any_mode_becomes_float32_rgb(tmp_path, mode):
    path = str(tmp_path / 'x.png')
    Image.new('RGB', (5, 3), (200, 100, 50)).convert(mode).save(path)
    img = read_image(path)
    assert img.shape == (3, 3, 5) and img.dtype == numpy.float32
    assert img.flags.c_contiguous
    assert read_image_size(path) == (3, 5)
    if mode in ('RGB', 'RGBA'):
        numpy.testing.assert_array_equal(img[:, 1, 2], [200, 100, 50])


def test_missing_empty_and_not_an_image(tmp_path):
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(MissingExampleFileError, match='not found'):
        read_image(missing)
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(BadExampleError, match='empty file: '):
        read_image_size(str(empty))
    text = tmp_path / 'text.png'
    text.write_text('not an image')
    with pytest.raises(BadExampleError) as info:
        read_image(str(text))
    message = str(info.value)
    assert message.startswith(str(text) + ': not a readable image: ')
    assert '\n' not in message


def test_decompression_bomb_is_a_one_line_bad_example(tmp_path, monkeypatch):
    path = str(tmp_path / 'huge.png')
    Image.new('RGB', (40, 30)).save(path)
    # Pillow refuses, before decoding, an image of more than twice its
    # limit of pixels; here the limit is made tiny instead of the image huge.
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 100)
    with pytest.raises(BadExampleError) as info:
        read_image(path)
    message = str(info.value)
    assert message.startswith(path) and '\n' not in message
