"""Image and box transforms: resize, horizontal flip, normalisation.

Conventions (the whole package uses them):

* an image is a float32 ``(C, H, W)`` RGB array with values in ``[0, 255]``
  (until one of the ``*_normalize`` functions turns it into network input);
* a size is ``(H, W)``;
* a box array ``bbox`` is ``(R, 4)`` float32, each row
  ``(y_min, x_min, y_max, x_max)`` in pixels of the image it belongs to.

Every function works on NumPy arrays and, where it only does arithmetic and
indexing, on CuPy arrays too (the array module is taken from the input).
"""

import numpy

from fasterrcnn.backend import get_array_module, to_cpu


def _mirror_index(coord, n):
    """Source coordinates folded back into ``[0, n - 1]``.

    Reflects about the centres of the edge pixels (scipy.ndimage's 'mirror',
    which is what skimage's ``mode='reflect'`` becomes), so a coordinate of
    ``-0.25`` reads at ``0.25``. With the half-pixel mapping used by
    :func:`resize` a coordinate never lies more than half a pixel outside, so
    one reflection is enough.

    Args:
        coord (numpy.ndarray): ``(N,)`` float64 source coordinates.
        n (int): length of the source axis.
    """
    if n == 1:
        return numpy.zeros_like(coord)
    coord = numpy.abs(coord)
    return numpy.where(coord > n - 1, 2 * (n - 1) - coord, coord)


def _linear_weights(in_len, out_len):
    """Left indices, right indices and right weights for one axis.

    Half-pixel centres: output pixel ``i`` samples the input at
    ``(i + 0.5) * in_len / out_len - 0.5``.

    Returns:
        tuple: ``(lo, hi, w)``, ``(out_len,)`` int64, int64 and float64:
        ``out[i] = (1 - w[i]) * in[lo[i]] + w[i] * in[hi[i]]``.
    """
    coord = (numpy.arange(out_len, dtype=numpy.float64) + 0.5) \
        * (in_len / out_len) - 0.5
    coord = _mirror_index(coord, in_len)
    lo = numpy.floor(coord).astype(numpy.int64)
    lo = numpy.minimum(lo, in_len - 1)
    hi = numpy.minimum(lo + 1, in_len - 1)
    w = coord - lo
    return lo, hi, w


def resize(img, size):
    """Bilinear resize of a CHW image.

    Pixel centres sit at half-integer positions (output pixel ``i`` reads the
    input at ``(i + 0.5) * in / out - 0.5``), with no anti-aliasing and mirror
    reflection at the border: the same as
    ``skimage.transform.resize(..., order=1, mode='reflect',
    anti_aliasing=False)``, which the PyTorch version uses. The arithmetic is
    done in float64 (as scipy.ndimage does) and the result cast to float32.

    Args:
        img (array): ``(C, H, W)`` float image (any value range).
        size (tuple of int): ``(H_out, W_out)``, both >= 1.

    Returns:
        array: ``(C, H_out, W_out)`` float32 image, same array module as
        ``img``.
    """
    xp = get_array_module(img)
    out_h, out_w = int(size[0]), int(size[1])
    if out_h < 1 or out_w < 1:
        raise ValueError('resize: output size must be >= 1, got {}'.format(
            (out_h, out_w)))
    _, in_h, in_w = img.shape
    if (out_h, out_w) == (in_h, in_w):
        # Every output pixel reads its own input pixel with weight 1 (and
        # its neighbour with 0): the image itself, which the arithmetic
        # below took 3 ms to give for the demo's 192 x 256 images (once a
        # training iteration, in the data thread, and once an image in
        # evaluation). Not the same for an infinite pixel (inf * 0 is NaN
        # there) or a -0.0 one (-0.0 + 0.0 is 0.0), kept here.
        return img.astype(numpy.float32)
    img = img.astype(numpy.float64, copy=False)
    # Separable: interpolate rows, then columns (bilinear = linear x linear).
    lo, hi, w = (xp.asarray(a) for a in _linear_weights(in_h, out_h))
    img = img[:, lo, :] * (1 - w)[None, :, None] \
        + img[:, hi, :] * w[None, :, None]
    lo, hi, w = (xp.asarray(a) for a in _linear_weights(in_w, out_w))
    img = img[:, :, lo] * (1 - w)[None, None, :] \
        + img[:, :, hi] * w[None, None, :]
    return img.astype(numpy.float32)


def _box_dtype(bbox):
    """The float dtype that box transforms compute and return in.

    float64 boxes stay float64 and integer boxes become float64 (exact for
    any pixel coordinate; a scaled or flipped integer box is not an integer);
    every other dtype becomes float32, the package's box dtype.
    """
    if bbox.dtype == numpy.float64 or bbox.dtype.kind in 'biu':
        return numpy.float64
    return numpy.float32


def resize_bbox(bbox, in_size, out_size):
    """Boxes of an image of ``in_size`` moved to the image resized to
    ``out_size``.

    Args:
        bbox (array): ``(R, 4)`` float32 boxes,
            ``(y_min, x_min, y_max, x_max)`` in pixels of the input image.
            float64 boxes are kept float64; integer boxes become float64.
        in_size (tuple of int): ``(H, W)`` of the input image.
        out_size (tuple of int): ``(H_out, W_out)`` of the resized image.

    Returns:
        array: ``(R, 4)`` float32 (float64, see above) boxes in pixels of
        the resized image (a new array).
    """
    y_scale = float(out_size[0]) / in_size[0]
    x_scale = float(out_size[1]) / in_size[1]
    bbox = bbox.astype(_box_dtype(bbox), copy=True)
    bbox[:, 0::2] *= y_scale
    bbox[:, 1::2] *= x_scale
    return bbox


def flip(img, x_flip=True):
    """Horizontal flip of a CHW image.

    Args:
        img (array): ``(C, H, W)`` image.
        x_flip (bool): flip when True, return an unflipped copy otherwise.

    Returns:
        array: ``(C, H, W)`` contiguous copy, same dtype.
    """
    if x_flip:
        # A reversed view; make it contiguous (that copies).
        return get_array_module(img).ascontiguousarray(img[:, :, ::-1])
    return img.copy()


def flip_bbox(bbox, size, x_flip=True, y_flip=False):
    """Boxes of an image after a horizontal and/or vertical flip.

    Coordinates are treated as continuous, as the PyTorch version (and
    chainercv) do: ``x_min' = W - x_max`` and ``x_max' = W - x_min``
    (likewise ``y`` with ``H``), so flipping twice gives the boxes back
    (exactly for pixel and the usual sub-pixel coordinates; other float32
    values up to the rounding of ``W - x``).

    Args:
        bbox (array): ``(R, 4)`` float32 boxes,
            ``(y_min, x_min, y_max, x_max)`` in pixels.
            float64 boxes are kept float64; integer boxes become float64.
        size (tuple of int): ``(H, W)`` of the image.
        x_flip (bool): flip horizontally (left-right).
        y_flip (bool): flip vertically (top-bottom).

    Returns:
        array: ``(R, 4)`` float32 (float64, see above) boxes (a new array,
        unchanged values when neither flip is asked for).
    """
    height, width = size
    bbox = bbox.astype(_box_dtype(bbox), copy=True)
    if y_flip:
        y_min = height - bbox[:, 2]
        y_max = height - bbox[:, 0]
        bbox[:, 0] = y_min
        bbox[:, 2] = y_max
    if x_flip:
        x_min = width - bbox[:, 3]
        x_max = width - bbox[:, 1]
        bbox[:, 1] = x_min
        bbox[:, 3] = x_max
    return bbox


def scale_size(size, min_size=600, max_size=1000):
    """The scale factor and output size of the Faster R-CNN resize.

    The shorter side is brought to ``min_size`` unless that makes the longer
    side exceed ``max_size``; then the longer side is brought to ``max_size``:
    ``scale = min(min_size / min(H, W), max_size / max(H, W))``.

    The output size is what the PyTorch version actually gets from
    ``skimage.transform.resize(img, (C, H * scale, W * scale))``: skimage
    passes the zoom ``(H * scale) / H`` to ``scipy.ndimage.zoom``, which
    *rounds* ``H * zoom`` to the nearest integer. ``int(H * scale)`` would
    truncate, and for e.g. ``H = 281`` (``H * scale = 599.99999...``) give 599
    where the PyTorch version gets 600.

    Args:
        size (tuple of int): ``(H, W)`` of the input image.
        min_size (int): target length of the shorter side.
        max_size (int): upper bound on the longer side.

    Returns:
        tuple: ``(scale, (H_out, W_out))``, a float and two ints >= 1.
    """
    height, width = int(size[0]), int(size[1])
    scale = min(float(min_size) / min(height, width),
                float(max_size) / max(height, width))
    out = []
    for length in (height, width):
        # Same float operations as skimage -> scipy.ndimage.zoom.
        zoom = 1.0 / (length / (length * scale))
        out.append(max(1, int(round(length * zoom))))
    return scale, tuple(out)


# Per RGB channel, for images in [0, 1] (torchvision's ImageNet statistics).
_TORCHVISION_MEAN = (0.485, 0.456, 0.406)
_TORCHVISION_STD = (0.229, 0.224, 0.225)
# Per BGR channel, for images in [0, 255] (the Caffe VGG16 weights).
_CAFFE_BGR_MEAN = (102.9801, 115.9465, 122.7717)


def torchvision_normalize(img):
    """Network input for torchvision-trained weights.

    ``(img / 255 - mean) / std`` per RGB channel with the ImageNet mean
    ``(0.485, 0.456, 0.406)`` and std ``(0.229, 0.224, 0.225)``.

    Args:
        img (array): ``(3, H, W)`` float32 RGB image in ``[0, 255]``.

    Returns:
        array: ``(3, H, W)`` float32, RGB.
    """
    xp = get_array_module(img)
    mean = xp.asarray(_TORCHVISION_MEAN, dtype=numpy.float32)[:, None, None]
    std = xp.asarray(_TORCHVISION_STD, dtype=numpy.float32)[:, None, None]
    img = img.astype(numpy.float32, copy=False) / numpy.float32(255)
    return ((img - mean) / std).astype(numpy.float32, copy=False)


def caffe_normalize(img):
    """Network input for Caffe-trained weights.

    Channels reversed to BGR, then the BGR mean
    ``(102.9801, 115.9465, 122.7717)`` subtracted; the range stays about
    ``[-128, 128]``.

    Args:
        img (array): ``(3, H, W)`` float32 RGB image in ``[0, 255]``.

    Returns:
        array: ``(3, H, W)`` float32, **BGR**.
    """
    xp = get_array_module(img)
    mean = xp.asarray(_CAFFE_BGR_MEAN, dtype=numpy.float32)[:, None, None]
    img = img[::-1].astype(numpy.float32)
    return (img - mean).astype(numpy.float32, copy=False)


_NORMALIZERS = {
    'torchvision': torchvision_normalize,
    'caffe': caffe_normalize,
}


def get_normalizer(normalize):
    """A normalisation function from a name, a callable or None.

    Args:
        normalize: ``'torchvision'``, ``'caffe'``, ``None`` (keep ``[0, 255]``
            RGB) or a callable taking and returning a ``(3, H, W)`` image.
    """
    if normalize is None:
        return lambda img: img
    if callable(normalize):
        return normalize
    try:
        return _NORMALIZERS[normalize]
    except KeyError:
        raise ValueError(
            'unknown normalize {!r}: use one of {}, None or a callable'.format(
                normalize, sorted(_NORMALIZERS))) from None


def prepare_image(img, min_size, max_size, normalize):
    """Resize and normalise one image for the network: the one definition
    of the preprocessing (``FasterRCNN.prepare``, which the training
    transform calls too).

    Args:
        img (numpy.ndarray): ``(3, H, W)`` float32 RGB in ``[0, 255]``.
        min_size, max_size (int): see :func:`scale_size`.
        normalize (callable): a normaliser (:func:`get_normalizer`).

    Returns:
        tuple: ``(3, H', W')`` float32 network input and the scale ``W' /
        W`` (measured on the width, as the PyTorch version's predict does).
    """
    if img.ndim != 3 or img.shape[0] != 3:
        raise ValueError('expected a (3, H, W) image, got shape {}'
                         .format(img.shape))
    width = img.shape[2]
    _, size = scale_size(img.shape[1:], min_size, max_size)
    img = normalize(resize(img, size))
    return img, img.shape[2] / float(width)


class TrainTransform(object):
    """The training-time transform: the model's prepare, then a random
    flip.

    What the PyTorch version's ``Transform`` does, with the flip drawn from a
    :class:`numpy.random.RandomState` so that a run can be reproduced.

    Args:
        prepare (callable): the model's ``prepare`` (``img`` to ``(network
            input, scale)``, see :func:`prepare_image`), so that training
            and prediction preprocess by one definition.
        random_state (numpy.random.RandomState): source of the flips when
            the call gives no state of its own; None makes a new, unseeded
            one.
        flip (bool): random horizontal flips (False: never flip).

    It is called with one tuple ``(img, bbox, label)`` (as
    :class:`chainer.datasets.TransformDataset` does), where
        img (numpy.ndarray): ``(3, H, W)`` float32 RGB in ``[0, 255]``,
        bbox (numpy.ndarray): ``(R, 4)`` float32
            ``(y_min, x_min, y_max, x_max)`` in pixels of ``img``,
        label (numpy.ndarray): ``(R,)`` int32 in ``[0, n_fg_class)``,

    and optionally ``random_state``, the example's own state to draw the
    flip from (see :mod:`fasterrcnn.creators.seeding`) in place of the
    transform's; it returns ``(img, bbox, label, scale)``: the resized,
    normalised and possibly flipped ``(3, H', W')`` float32 image, ``(R,
    4)`` float32 boxes in its pixels, the labels unchanged, and ``scale =
    H' / H`` (a float, as the PyTorch version computes it).
    """

    def __init__(self, prepare, random_state=None, flip=True):
        self.prepare = prepare
        if random_state is None:
            random_state = numpy.random.RandomState()
        self.random_state = random_state
        self.flip = flip

    def __call__(self, in_data, random_state=None):
        img, bbox, label = in_data[:3]
        _, height, width = img.shape
        img, _ = self.prepare(img)
        out_size = img.shape[1:]
        bbox = resize_bbox(bbox, (height, width), out_size)
        # The draw happens with flips off too, so that switching them off
        # leaves the other random streams where they were.
        source = self.random_state if random_state is None else random_state
        x_flip = bool(source.randint(2)) and self.flip
        img = flip(img, x_flip=x_flip)
        bbox = flip_bbox(bbox, out_size, x_flip=x_flip)
        # The PyTorch version's training measures the scale on the height.
        scale = out_size[0] / float(height)
        return img, bbox, label, scale


def denormalize(img, normalize):
    """The RGB image that a normaliser was given, from its output.

    Args:
        img (numpy.ndarray): ``(3, H, W)`` float32 network input, as
            :func:`fasterrcnn.data.transforms.get_normalizer` ``(normalize)``
            made it.
        normalize (str or None): ``'torchvision'``, ``'caffe'`` or None
            (the image was left in ``[0, 255]`` RGB).

    Returns:
        numpy.ndarray: ``(3, H, W)`` float32 RGB in ``[0, 255]`` (up to
        rounding; not clipped).
    """
    img = numpy.asarray(to_cpu(img), dtype=numpy.float32)
    if normalize is None:
        return img.copy()
    if normalize == 'torchvision':
        mean = numpy.asarray(_TORCHVISION_MEAN, numpy.float32)[:, None, None]
        std = numpy.asarray(_TORCHVISION_STD, numpy.float32)[:, None, None]
        return ((img * std + mean) * numpy.float32(255)).astype(numpy.float32)
    if normalize == 'caffe':
        mean = numpy.asarray(_CAFFE_BGR_MEAN, numpy.float32)[:, None, None]
        return numpy.ascontiguousarray((img + mean)[::-1])
    raise ValueError('cannot undo normalize {!r}: use \'torchvision\', '
                     '\'caffe\' or None'.format(normalize))
