"""Reading image files: the pixels, or only the size from the header, with
one-line errors that name the file.

Whatever the file holds (grey, palette, RGBA, CMYK), an image comes out as
the project's images are: float32 ``(3, H, W)`` RGB in ``[0, 255]``. The
VOC and COCO readers and ``fasterrcnn-predict`` read through here, so that
a bad file is reported the same way wherever it is met.
"""

import contextlib
import os

import numpy
from PIL import Image

from fasterrcnn.data.bad_examples import (BadExampleError,
                                          MissingExampleFileError, one_line)


def read_image(path):
    """An image file as float32 ``(3, H, W)`` RGB in ``[0, 255]``.

    Raises:
        BadExampleError: the file is missing, empty, not an image, or
            truncated (one line naming it).
    """
    with _image_errors(path), Image.open(path) as f:
        img = numpy.asarray(f.convert('RGB'), dtype=numpy.float32)
    return img.transpose(2, 0, 1).copy()


def read_image_size(path):
    """``(H, W)`` of an image from its header, without decoding it.

    Raises:
        BadExampleError: as :func:`read_image`, for what the header shows.
    """
    with _image_errors(path), Image.open(path) as f:
        width, height = f.size
    return height, width


@contextlib.contextmanager
def _image_errors(path):
    """Pillow's errors on ``path`` as one-line BadExampleErrors that name
    it (Pillow says "truncated", "cannot identify" ... without the path)."""
    try:
        yield
    except FileNotFoundError:
        raise MissingExampleFileError('{} not found'.format(path)) from None
    except (OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as e:
        # (a decompression bomb: an image claiming more pixels than
        # Pillow's limit, refused before it is decoded)
        raise BadExampleError('{}: {}{}'.format(
            path, _image_problem(path), one_line(e))) from None


def _image_problem(path):
    """What to say first about an image Pillow cannot read."""
    try:
        if os.path.getsize(path) == 0:
            return 'empty file: '
    except OSError:
        pass
    return 'not a readable image: '
