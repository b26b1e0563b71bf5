"""Box arithmetic: IoU, the box coding of Faster R-CNN, and anchors.

All boxes are float32 ``(y_min, x_min, y_max, x_max)`` in pixels, with no
``+1`` (the PyTorch version measures a box as ``y_max - y_min``). Every
function works on NumPy and CuPy arrays alike (``xp`` is taken from the
input) and keeps its result on the input's device.

IoU conventions
---------------
IoU is computed in four places, on purpose not by one function, because
each must agree with a different reference to the last float:

- :func:`bbox_iou` (anchor and proposal targets, evaluation of proposals):
  continuous coordinates, no ``+1``, in the inputs' dtype, and 0 (not NaN)
  for two empty boxes, as the PyTorch version's ``bbox_iou`` that the
  target creators use (``nan_for_empty=True``: NaN, as chainercv's).
- ``fasterrcnn.nms`` NumPy twin and its CuPy mask kernel: the expression
  and operation order of ``torchvision.ops.nms`` (``inter / (area_i +
  area_j - inter)`` in the boxes' dtype, NaN for two empty boxes, which
  suppresses nothing) and its comparison (suppress when IoU > threshold,
  the threshold rounded down to the dtype): the kept set is then identical
  even where an IoU lies within rounding of the threshold. The kernel
  repeats the twin's arithmetic in CUDA; a test compares the two.
- ``fasterrcnn.evaluation.voc``: the PASCAL VOC devkit's definition, which
  counts pixels inclusively (``+1`` on widths and heights) in float64, so
  that mAP is comparable with published VOC numbers.
"""

import math

import numpy

from fasterrcnn.backend import get_array_module

#: Largest log-scale ``dh`` / ``dw`` that :func:`loc2bbox` lets through.
#: ``exp(50) ~ 5e21``: any box scaled that much already covers far more than
#: any image, so clipping it gives the same box as the PyTorch version's
#: unclamped ``exp``; the cap only keeps ``exp`` from overflowing to ``inf``
#: (and ``inf - inf`` from making NaN further down).
MAX_LOG_SCALE = 50.0

#: Mean and std that the RoI head's box offsets are normalised by: the head
#: regresses ``(loc - mean) / std``, so that its four outputs have about unit
#: variance (Fast R-CNN's bounding-box regression targets, as the PyTorch
#: version and chainercv set them). Shared by the model, which decodes with
#: them, and the proposal target creator, which encodes with them.
LOC_NORMALIZE_MEAN = (0., 0., 0., 0.)
LOC_NORMALIZE_STD = (0.1, 0.1, 0.2, 0.2)


class BoxShapeError(ValueError, IndexError):
    """Boxes whose array is not ``(R, 4)``.

    A ``ValueError``, and an ``IndexError`` too, which is what chainercv
    raises for the same input: code written for either catches it.
    """


def bbox_iou(bbox_a, bbox_b, nan_for_empty=False):
    """Intersection over union of every pair of boxes.

    Args:
        bbox_a (array): ``(N, 4)`` float boxes, ``(y_min, x_min, y_max,
            x_max)``.
        bbox_b (array): ``(K, 4)`` float boxes, same order.
        nan_for_empty (bool): give NaN (``0 / 0``, as chainercv) rather than
            0 for a pair whose union has no area.

    Returns:
        array: ``(N, K)`` IoU, dtype of the inputs. A pair whose union has no
        area (two degenerate boxes) gets 0, not NaN, unless
        ``nan_for_empty``.

    Raises:
        BoxShapeError: an input is not ``(R, 4)``.
    """
    if bbox_a.ndim != 2 or bbox_b.ndim != 2 or bbox_a.shape[1] != 4 or \
            bbox_b.shape[1] != 4:
        raise BoxShapeError('boxes must have shape (N, 4), got {} and {}'
                            .format(bbox_a.shape, bbox_b.shape))
    xp = get_array_module(bbox_a)
    top_left = xp.maximum(bbox_a[:, None, :2], bbox_b[None, :, :2])
    bottom_right = xp.minimum(bbox_a[:, None, 2:], bbox_b[None, :, 2:])
    inter = xp.prod(bottom_right - top_left, axis=2) * \
        (top_left < bottom_right).all(axis=2)
    area_a = xp.prod(bbox_a[:, 2:] - bbox_a[:, :2], axis=1)
    area_b = xp.prod(bbox_b[:, 2:] - bbox_b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    if nan_for_empty:
        with numpy.errstate(invalid='ignore', divide='ignore'):
            return inter / union
    # Dividing by 1 where the union is empty keeps 0 / 0 from becoming NaN
    # while leaving every other quotient bit-identical.
    return inter / xp.where(union > 0, union, 1)


def bbox2loc(src_bbox, dst_bbox):
    """Encode ``dst_bbox`` relative to ``src_bbox`` (Faster R-CNN, eq. 2).

    ``t_y = (y_dst - y_src) / h_src``, ``t_x`` likewise, ``t_h = log(h_dst /
    h_src)``, ``t_w`` likewise, with ``(y, x)`` box centres. A source box with
    no height or width is measured as ``eps`` (as the PyTorch version does) so
    the source stays finite; a target with no height or width gives
    ``-inf``. Inverse of :func:`loc2bbox`.

    Args:
        src_bbox (array): ``(R, 4)`` float boxes, ``(y_min, x_min, y_max,
            x_max)``: the anchors or RoIs.
        dst_bbox (array): ``(R, 4)`` float boxes, same order: the targets.

    Returns:
        array: ``(R, 4)`` offsets ``(t_y, t_x, t_h, t_w)``, dtype of the input.
    """
    xp = get_array_module(src_bbox)
    height = src_bbox[:, 2] - src_bbox[:, 0]
    width = src_bbox[:, 3] - src_bbox[:, 1]
    ctr_y = src_bbox[:, 0] + 0.5 * height
    ctr_x = src_bbox[:, 1] + 0.5 * width

    base_height = dst_bbox[:, 2] - dst_bbox[:, 0]
    base_width = dst_bbox[:, 3] - dst_bbox[:, 1]
    base_ctr_y = dst_bbox[:, 0] + 0.5 * base_height
    base_ctr_x = dst_bbox[:, 1] + 0.5 * base_width

    eps = xp.finfo(height.dtype).eps
    height = xp.maximum(height, eps)
    width = xp.maximum(width, eps)

    dy = (base_ctr_y - ctr_y) / height
    dx = (base_ctr_x - ctr_x) / width
    with numpy.errstate(divide='ignore'):
        # A degenerate target gives log(0) = -inf: callers decide (the
        # creators zero such rows, which never count as positives).
        dh = xp.log(base_height / height)
        dw = xp.log(base_width / width)
    return xp.stack((dy, dx, dh, dw), axis=1)


def loc2bbox(src_bbox, loc):
    """Decode offsets into boxes (inverse of :func:`bbox2loc`).

    ``dh`` and ``dw`` above :data:`MAX_LOG_SCALE` are capped there so that no
    ``inf`` (and no NaN from it) comes out of finite input.

    Args:
        src_bbox (array): ``(R, 4)`` float boxes, ``(y_min, x_min, y_max,
            x_max)``: the anchors or RoIs. Their sizes and centres are
            computed in their own dtype when it is narrower than ``loc``'s
            (float32 anchors, float64 offsets), else in ``loc``'s.
        loc (array): ``(R, 4 * L)`` offsets ``(t_y, t_x, t_h, t_w)`` repeated
            ``L`` times (one set per class in the RoI head).

    Returns:
        array: ``(R, 4 * L)`` boxes, ``(y_min, x_min, y_max, x_max)``
        repeated, dtype of ``loc``.
    """
    xp = get_array_module(src_bbox)
    if src_bbox.shape[0] == 0:
        return xp.zeros((0, loc.shape[1]), dtype=loc.dtype)
    if src_bbox.dtype.kind != 'f' or src_bbox.dtype.itemsize > \
            loc.dtype.itemsize:
        src_bbox = src_bbox.astype(loc.dtype)
    # Float32 anchors with float64 offsets (the float64 parity run): the
    # anchors' sizes and centres in float32, the rest in float64, as the
    # PyTorch version computes them. Casting the anchors first (chainercv's
    # way) moves proposals by up to 5e-5 px, 1e-5 relative (measured on
    # tests/data/golden/sfr_seed2_f64.npz): 45 % of them then fail the
    # float64 comparison. In float32 both ways are the same.
    src_height = src_bbox[:, 2:3] - src_bbox[:, 0:1]
    src_width = src_bbox[:, 3:4] - src_bbox[:, 1:2]
    src_ctr_y = src_bbox[:, 0:1] + 0.5 * src_height
    src_ctr_x = src_bbox[:, 1:2] + 0.5 * src_width

    dy = loc[:, 0::4]
    dx = loc[:, 1::4]
    dh = xp.minimum(loc[:, 2::4], loc.dtype.type(MAX_LOG_SCALE))
    dw = xp.minimum(loc[:, 3::4], loc.dtype.type(MAX_LOG_SCALE))

    ctr_y = dy * src_height + src_ctr_y
    ctr_x = dx * src_width + src_ctr_x
    h = xp.exp(dh) * src_height
    w = xp.exp(dw) * src_width

    dst_bbox = xp.empty(loc.shape, dtype=loc.dtype)
    dst_bbox[:, 0::4] = ctr_y - 0.5 * h
    dst_bbox[:, 1::4] = ctr_x - 0.5 * w
    dst_bbox[:, 2::4] = ctr_y + 0.5 * h
    dst_bbox[:, 3::4] = ctr_x + 0.5 * w
    return dst_bbox


def clip_bbox(bbox, size):
    """Clip boxes to an image.

    Args:
        bbox (array): ``(R, 4 * L)`` float boxes, ``(y_min, x_min, y_max,
            x_max)`` repeated ``L`` times.
        size (tuple of ints): ``(H, W)`` of the image.

    Returns:
        array: a clipped copy, same shape and dtype.
    """
    xp = get_array_module(bbox)
    out = bbox.copy()
    out[:, 0::2] = xp.clip(bbox[:, 0::2], 0, size[0])
    out[:, 1::2] = xp.clip(bbox[:, 1::2], 0, size[1])
    return out


def generate_anchor_base(base_size=16, ratios=(0.5, 1, 2),
                         anchor_scales=(8, 16, 32)):
    """The anchors of one feature-map cell, centred on that cell's centre.

    For each ratio ``r`` (height / width) and scale ``s`` the anchor has
    ``h = base_size * s * sqrt(r)`` and ``w = base_size * s * sqrt(1 / r)``
    (Faster R-CNN, sec. 3.1.1: three scales, three aspect ratios), centred at
    ``(base_size / 2, base_size / 2)``. Ratios form the outer loop, scales
    the inner, as in the PyTorch version.

    Args:
        base_size (int): the stride of the feature map, in pixels.
        ratios (sequence of floats): height / width ratios.
        anchor_scales (sequence of floats): sizes in units of ``base_size``.

    Returns:
        numpy.ndarray: ``(len(ratios) * len(anchor_scales), 4)`` float32,
        ``(y_min, x_min, y_max, x_max)``.
    """
    centre = base_size / 2.
    anchor_base = numpy.zeros(
        (len(ratios) * len(anchor_scales), 4), dtype=numpy.float32)
    for i, ratio in enumerate(ratios):
        for j, scale in enumerate(anchor_scales):
            # float64 first, one rounding to float32 at the end, as there.
            h = base_size * scale * math.sqrt(ratio)
            w = base_size * scale * math.sqrt(1. / ratio)
            anchor_base[i * len(anchor_scales) + j] = (
                centre - h / 2., centre - w / 2.,
                centre + h / 2., centre + w / 2.)
    return anchor_base


def enumerate_shifted_anchor(anchor_base, feat_stride, height, width,
                             xp=numpy):
    """Every anchor of an ``(height, width)`` feature map.

    Args:
        anchor_base (array): ``(A, 4)`` float32 anchors of one cell,
            ``(y_min, x_min, y_max, x_max)``.
        feat_stride (int): pixels between neighbouring cells.
        height, width (int): the feature map's size.
        xp: numpy or cupy, where the result is wanted.

    Returns:
        array: ``(height * width * A, 4)`` float32 anchors. Cells in row-major
        order (y outer, x inner) and the ``A`` anchors of a cell together,
        the order in which the RPN's ``(N, A * 4, H, W)`` output is flattened.
    """
    anchor_base = xp.asarray(anchor_base, dtype=xp.float32)
    shift_y = xp.arange(0, height * feat_stride, feat_stride)
    shift_x = xp.arange(0, width * feat_stride, feat_stride)
    shift_x, shift_y = xp.meshgrid(shift_x, shift_y)
    shift = xp.stack((shift_y.ravel(), shift_x.ravel(),
                      shift_y.ravel(), shift_x.ravel()), axis=1)
    anchor = anchor_base[None, :, :] + shift[:, None, :].astype(xp.float32)
    return anchor.reshape((-1, 4)).astype(xp.float32, copy=False)


def grid_anchor_index(height, width, n_anchor, valid_height, valid_width):
    """Positions, in :func:`enumerate_shifted_anchor`'s order, of the anchors
    of the top-left ``valid_height x valid_width`` cells of a ``height x
    width`` feature map: an image's own anchors in a padded batch, in the
    order they have when the image is alone.

    Args:
        height, width (int): the feature map's size.
        n_anchor (int): anchors per cell.
        valid_height, valid_width (int): the image's own cells.

    Returns:
        numpy.ndarray: ``(valid_height * valid_width * n_anchor,)`` int64.
    """
    cells = (numpy.arange(valid_height)[:, None] * width +
             numpy.arange(valid_width)[None, :]).ravel()
    return (cells[:, None] * n_anchor + numpy.arange(n_anchor)[None, :]) \
        .ravel()
