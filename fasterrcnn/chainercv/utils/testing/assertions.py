"""chainercv's assertions for box arrays and detection links."""

import numpy


def assert_is_bbox(bbox, size=None):
    """Raise :class:`AssertionError` unless ``bbox`` is a valid box array.

    As chainercv: a float32 NumPy array of shape ``(R, 4)`` (``R`` may be 0)
    whose every box has ``y_min < y_max`` and ``x_min < x_max``; with
    ``size``, also ``y_min, x_min >= 0``, ``y_max <= H`` and ``x_max <= W``.

    Args:
        bbox (numpy.ndarray): ``(R, 4)`` float32 boxes,
            ``(y_min, x_min, y_max, x_max)`` in pixels.
        size (tuple of int): ``(H, W)`` of the image the boxes must lie in,
            or None.
    """
    assert isinstance(bbox, numpy.ndarray), \
        'bbox must be a numpy.ndarray, got {}'.format(type(bbox).__name__)
    assert bbox.dtype == numpy.float32, \
        'bbox must be float32, got {}'.format(bbox.dtype)
    assert bbox.shape[1:] == (4,), \
        'bbox must have shape (R, 4), got {}'.format(bbox.shape)
    assert (bbox[:, 0] < bbox[:, 2]).all(), \
        'every box must have y_min < y_max'
    assert (bbox[:, 1] < bbox[:, 3]).all(), \
        'every box must have x_min < x_max'
    if size is not None:
        assert (bbox[:, :2] >= 0).all() and (bbox[:, 2:] <= size).all(), \
            'every box must lie inside the image of size {}'.format(
                tuple(size))


def _assert_is_per_box(array, name, dtype, n_box):
    """``array`` is a ``(n_box,)`` NumPy array of ``dtype``."""
    assert isinstance(array, numpy.ndarray), \
        '{} must be a numpy.ndarray, got {}'.format(
            name, type(array).__name__)
    assert array.dtype == dtype, \
        '{} must be {}, got {}'.format(name, numpy.dtype(dtype), array.dtype)
    assert array.shape[1:] == (), \
        '{} must have shape (R,), got {}'.format(name, array.shape)
    assert len(array) == n_box, \
        '{} has {} entries for {} boxes'.format(name, len(array), n_box)


def assert_is_detection_link(link, n_fg_class):
    """Raise :class:`AssertionError` unless ``link.predict`` detects as
    chainercv's detection links do.

    As chainercv: ``link.predict`` is called on two images of random
    integers in ``[0, 255]``, float32 RGB ``(3, 480, 640)`` and
    ``(3, 480, 320)`` drawn in that order with ``numpy.random.randint``
    (NumPy's global random state); it must return three lists ``bboxes,
    labels, scores`` with one entry per image, each image's ``bbox`` passing
    :func:`assert_is_bbox`, its ``label`` an ``(R,)`` int32 array in
    ``[0, n_fg_class)`` and its ``score`` an ``(R,)`` float32 array.

    Args:
        link: an object with a ``predict(imgs)`` method, ``imgs`` a list of
            ``(3, H, W)`` float32 RGB images in ``[0, 255]``.
        n_fg_class (int): number of foreground classes.
    """
    imgs = [
        numpy.random.randint(0, 256, size=(3, 480, 640)).astype(
            numpy.float32),
        numpy.random.randint(0, 256, size=(3, 480, 320)).astype(
            numpy.float32),
    ]
    result = link.predict(imgs)
    assert len(result) == 3, \
        'predict must return three things: bboxes, labels and scores'
    bboxes, labels, scores = result
    for name, values in (('bboxes', bboxes), ('labels', labels),
                         ('scores', scores)):
        assert len(values) == len(imgs), \
            'predict returned {} {} for {} images'.format(
                len(values), name, len(imgs))

    for bbox, label, score in zip(bboxes, labels, scores):
        assert_is_bbox(bbox)
        _assert_is_per_box(label, 'label', numpy.int32, len(bbox))
        if len(label) > 0:
            assert label.min() >= 0 and label.max() < n_fg_class, \
                'label must lie in [0, {}), got values in [{}, {}]'.format(
                    n_fg_class, label.min(), label.max())
        _assert_is_per_box(score, 'score', numpy.float32, len(bbox))
