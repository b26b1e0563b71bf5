"""chainercv's image and box transforms: resize, flip, random flip.

The names, signatures, defaults and results of ``chainercv.transforms``'
:func:`resize`, :func:`flip`, :func:`random_flip`, :func:`resize_bbox` and
:func:`flip_bbox`. Images are ``(C, H, W)`` arrays, sizes ``(H, W)`` and boxes
``(R, 4)`` arrays of ``(y_min, x_min, y_max, x_max)`` in pixels.

:func:`resize` always uses Pillow. chainercv uses OpenCV when ``cv2`` is
installed (or when ``chainer.config.cv_resize_backend`` is ``'cv2'``) and
Pillow otherwise; its OpenCV and Pillow results differ slightly, and this
module gives the Pillow ones whatever is installed (``'cv2'`` in that
setting is refused, see :mod:`fasterrcnn.chainercv.backends`).
"""

import random

import numpy
from PIL import Image

from fasterrcnn.chainercv.backends import check_pillow
from fasterrcnn.data import transforms as _transforms

# The resampling filters that chainercv documents (and that both of its
# backends know).
_INTERPOLATIONS = {
    Image.NEAREST: 'NEAREST',
    Image.BILINEAR: 'BILINEAR',
    Image.BICUBIC: 'BICUBIC',
    Image.LANCZOS: 'LANCZOS',
}


def _to_dtype(values, dtype):
    """float32 ``values`` as ``dtype``: rounded and clipped for integers."""
    if dtype.kind in 'iu':
        info = numpy.iinfo(dtype)
        values = numpy.clip(numpy.rint(values), info.min, info.max)
    return values.astype(dtype)


def resize(img, size, interpolation=Image.BILINEAR):
    """Resize a CHW image with Pillow, channel by channel.

    As chainercv's Pillow backend: each channel becomes a 32-bit float
    (mode ``'F'``) Pillow image, is resized with ``resample=interpolation``
    and written back into an array of the input's dtype. An image with no
    channels gives an empty ``(0, H_out, W_out)`` array, as chainercv.

    chainercv's Pillow backend works on float32 images only (it reads any
    other dtype's bytes as float32); here other dtypes are converted to
    float32 for Pillow and back afterwards, integers rounded to the nearest
    value and clipped to the dtype's range (as OpenCV does).

    Args:
        img (numpy.ndarray): ``(C, H, W)`` image, float32 as in chainercv
            (any real dtype works, see above); channel order does not matter.
        size (tuple of int): ``(H_out, W_out)``, both >= 1.
        interpolation (int): ``PIL.Image.NEAREST``, ``BILINEAR`` (the
            default), ``BICUBIC`` or ``LANCZOS``.

    Returns:
        numpy.ndarray: ``(C, H_out, W_out)`` image of ``img``'s dtype.
    """
    check_pillow('cv_resize_backend')
    out_h, out_w = (int(length) for length in size)
    if len(img) == 0:
        return numpy.empty((0, out_h, out_w), dtype=img.dtype)
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            'resize: interpolation must be one of PIL.Image.{} (got {!r})'
            .format(', '.join(_INTERPOLATIONS.values()), interpolation))
    if out_h < 1 or out_w < 1:
        raise ValueError('resize: output size must be >= 1, got {}'.format(
            (out_h, out_w)))
    out = numpy.empty((len(img), out_h, out_w), dtype=img.dtype)
    for channel, out_channel in zip(img, out):
        # A 2-D float32 array becomes a mode 'F' image.
        pil = Image.fromarray(
            numpy.ascontiguousarray(channel, dtype=numpy.float32))
        resized = pil.resize((out_w, out_h), resample=interpolation)
        out_channel[:] = _to_dtype(
            numpy.asarray(resized, dtype=numpy.float32), img.dtype)
    return out


def flip(img, y_flip=False, x_flip=False, copy=False):
    """Flip a CHW image vertically and/or horizontally.

    As chainercv, the result is a view of ``img`` (negative strides) unless
    ``copy``.

    Args:
        img (numpy.ndarray): ``(C, H, W)`` image, any dtype.
        y_flip (bool): flip top-bottom.
        x_flip (bool): flip left-right.
        copy (bool): return a (C-contiguous) copy instead of a view.

    Returns:
        numpy.ndarray: ``(C, H, W)`` image, ``img``'s dtype.
    """
    assert img.ndim == 3, 'flip: the image must be (C, H, W), got shape ' \
        '{}'.format(img.shape)
    if y_flip:
        img = img[:, ::-1, :]
    if x_flip:
        img = img[:, :, ::-1]
    if copy:
        img = img.copy()
    return img


def random_flip(img, y_random=False, x_random=False, return_param=False,
                copy=False):
    """Flip a CHW image vertically and/or horizontally at random.

    As chainercv, each enabled direction is drawn with
    ``random.choice([True, False])`` from Python's :mod:`random` module
    (vertical first), so ``random.seed`` makes the draws repeat; the result
    is a view of ``img`` unless ``copy``.

    Args:
        img (numpy.ndarray): ``(C, H, W)`` image, any dtype.
        y_random (bool): flip top-bottom with probability 1/2.
        x_random (bool): flip left-right with probability 1/2.
        return_param (bool): also return which flips were made.
        copy (bool): return a (C-contiguous) copy instead of a view.

    Returns:
        numpy.ndarray or tuple: the ``(C, H, W)`` image; with
        ``return_param``, ``(img, {'y_flip': bool, 'x_flip': bool})``.
    """
    y_flip = random.choice([True, False]) if y_random else False
    x_flip = random.choice([True, False]) if x_random else False
    img = flip(img, y_flip=y_flip, x_flip=x_flip, copy=copy)
    if return_param:
        return img, {'y_flip': y_flip, 'x_flip': x_flip}
    return img


def resize_bbox(bbox, in_size, out_size):
    """Boxes of an image of ``in_size`` moved to that image resized to
    ``out_size``.

    As chainercv: ``y`` coordinates are scaled by ``H_out / H`` and ``x`` by
    ``W_out / W``. chainercv keeps the input dtype; here float32 and float64
    boxes keep theirs, and integer boxes become float64 rather than being
    truncated.

    Args:
        bbox (numpy.ndarray): ``(R, 4)`` float32 boxes,
            ``(y_min, x_min, y_max, x_max)`` in pixels of the input image.
        in_size (tuple of int): ``(H, W)`` of the input image.
        out_size (tuple of int): ``(H_out, W_out)`` of the resized image.

    Returns:
        numpy.ndarray: ``(R, 4)`` boxes in pixels of the resized image, a
        new array (float32, or float64 as above).
    """
    return _transforms.resize_bbox(bbox, in_size, out_size)


def flip_bbox(bbox, size, y_flip=False, x_flip=False):
    """Boxes of an image after :func:`flip`.

    As chainercv: ``y_min' = H - y_max``, ``y_max' = H - y_min`` for a
    vertical flip and ``x_min' = W - x_max``, ``x_max' = W - x_min`` for a
    horizontal one, so flipping twice gives the boxes back. Neither flip is
    made by default, as chainercv. float32 and float64 boxes keep their
    dtype; integer boxes become float64.

    Args:
        bbox (numpy.ndarray): ``(R, 4)`` float32 boxes,
            ``(y_min, x_min, y_max, x_max)`` in pixels.
        size (tuple of int): ``(H, W)`` of the image.
        y_flip (bool): the image was flipped top-bottom.
        x_flip (bool): the image was flipped left-right.

    Returns:
        numpy.ndarray: ``(R, 4)`` boxes, a new array (float32, or float64 as
        above).
    """
    return _transforms.flip_bbox(bbox, size, x_flip=x_flip, y_flip=y_flip)
