"""Random boxes inside an image, drawn as chainercv draws them."""

import numpy


def generate_random_bbox(n, img_size, min_length, max_length):
    """Random boxes that lie inside an image.

    Drawn from NumPy's global random state in chainercv's order (all
    ``y_min``, all ``x_min``, then the heights, then the widths, each with
    ``numpy.random.uniform``), so after the same ``numpy.random.seed`` the
    boxes equal chainercv's: ``y_min`` is uniform in ``[0, H - max_length)``,
    the height in ``[min_length, max_length)``, and likewise along ``x``.

    Args:
        n (int): number of boxes.
        img_size (tuple of int): ``(H, W)`` of the image.
        min_length (float): smallest height and width.
        max_length (float): bound on height and width (exclusive).

    Returns:
        numpy.ndarray: ``(n, 4)`` float32 boxes,
        ``(y_min, x_min, y_max, x_max)`` in pixels.
    """
    height, width = img_size
    y_min = numpy.random.uniform(0, height - max_length, size=(n,))
    x_min = numpy.random.uniform(0, width - max_length, size=(n,))
    y_max = y_min + numpy.random.uniform(min_length, max_length, size=(n,))
    x_max = x_min + numpy.random.uniform(min_length, max_length, size=(n,))
    return numpy.stack((y_min, x_min, y_max, x_max), axis=1).astype(
        numpy.float32)
