"""chainercv's image reader: a file as a CHW array, read with Pillow.

:func:`read_image` with the name, signature and results of
``chainercv.utils.read_image``. chainercv reads with OpenCV when ``cv2`` is
installed and with Pillow otherwise; this module always uses Pillow, so it
gives chainercv's Pillow results.
"""

import numpy
from PIL import Image

from fasterrcnn.chainercv.backends import check_pillow
from fasterrcnn.data.bad_examples import one_line

_ALPHAS = (None, 'ignore', 'blend_with_white', 'blend_with_black')


def _name(file):
    """How to name ``file`` (a path or a file object) in a message."""
    if hasattr(file, 'read'):
        return getattr(file, 'name', None) or repr(file)
    return str(file)


def _drop_alpha(img, alpha, file):
    """An ``(H, W, 4)`` RGBA array as ``(H, W, 3)`` RGB, as chainercv."""
    if alpha is None:
        raise ValueError(
            "{}: the image has an alpha channel; pass alpha='ignore', "
            "'blend_with_white' or 'blend_with_black' to read_image to say "
            "what to do with it".format(_name(file)))
    color = img[:, :, :3]
    if alpha == 'ignore':
        return color
    opacity = img[:, :, 3:] / 255
    if alpha == 'blend_with_white':
        return color * opacity + 255 * (1 - opacity)
    return color * opacity


def read_image(file, dtype=numpy.float32, color=True, alpha=None):
    """Read an image file as a CHW array with values in ``[0, 255]``.

    As chainercv's Pillow reader: with ``color`` the image is converted to
    RGB (any mode, palette and grayscale included) and comes out as
    ``(3, H, W)``; an RGBA image is an error unless ``alpha`` says what to do
    with the alpha channel. Without ``color`` it is converted to 8-bit
    grayscale (Pillow's ``'L'``, alpha dropped) and comes out as
    ``(1, H, W)``.

    Args:
        file (str or file object): a path, or a binary file object
            (chainercv's first argument is named ``file`` too).
        dtype: NumPy dtype of the result (float32 by default).
        color (bool): RGB if True, grayscale if False.
        alpha (str or None): for an RGBA image with ``color``: None raises
            :class:`ValueError`; ``'ignore'`` drops the alpha channel;
            ``'blend_with_white'`` / ``'blend_with_black'`` blend the image
            on white / black by its alpha (``rgb * a / 255`` plus, on white,
            ``255 * (1 - a / 255)``), computed in ``dtype`` and cast back to
            it.

    Returns:
        numpy.ndarray: ``(3, H, W)`` RGB or ``(1, H, W)`` grayscale image of
        ``dtype``.

    Raises:
        FileNotFoundError: no file at ``file``.
        OSError: the file is not an image Pillow can read (a one-line message
            naming the file).
        ValueError: an RGBA image with ``alpha=None``, or an unknown
            ``alpha``.
    """
    check_pillow('cv_read_image_backend')
    if alpha not in _ALPHAS:
        raise ValueError(
            'read_image: alpha must be one of {}, got {!r}'.format(
                ', '.join(repr(a) for a in _ALPHAS), alpha))
    try:
        with Image.open(file) as pil:
            if not color:
                pil = pil.convert('L')
            elif pil.mode != 'RGBA':
                pil = pil.convert('RGB')
            # Decoding happens here, inside the error handling.
            img = numpy.asarray(pil)
    except FileNotFoundError:
        raise FileNotFoundError(
            '{}: no such image file'.format(_name(file))) from None
    except (OSError, SyntaxError, ValueError) as error:
        # Pillow reports broken files with any of these, most without the
        # file name.
        raise OSError('{}: cannot read the image ({})'.format(
            _name(file), one_line(error))) from None
    img = img.astype(dtype)
    if img.ndim == 2:
        return img[numpy.newaxis]
    if img.shape[-1] == 4:
        img = _drop_alpha(img, alpha, file).astype(dtype, copy=False)
    return img.transpose((2, 0, 1))


def write_image(img, file, format=None):
    """Write a CHW image with Pillow, as chainercv's ``write_image``.

    Args:
        img (numpy.ndarray): ``(3, H, W)`` RGB or ``(1, H, W)`` grayscale,
            values in ``[0, 255]`` (cast to uint8, as chainercv).
        file (str or file object): where to write.
        format (str or None): Pillow's format name; None takes it from the
            file name.
    """
    img = numpy.asarray(img)
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError('write_image: img must be (3, H, W) or (1, H, W), '
                         'got shape {}'.format(img.shape))
    img = img[0] if img.shape[0] == 1 else img.transpose((1, 2, 0))
    Image.fromarray(img.astype(numpy.uint8)).save(file, format=format)
