"""``chainercv.utils``: box IoU, NMS, image reading and writing, applying a
model to an iterator's batches (:func:`apply_to_iterator`,
:class:`ProgressHook`, :func:`unzip`), and the test helpers a detection
test uses, with chainercv's semantics."""

from fasterrcnn import boxes, nms
from fasterrcnn.chainercv.utils import testing  # noqa: F401
from fasterrcnn.chainercv.utils.image import read_image  # noqa: F401
from fasterrcnn.chainercv.utils.image import write_image  # noqa: F401
from fasterrcnn.chainercv.utils.iterator import ProgressHook  # noqa: F401
from fasterrcnn.chainercv.utils.iterator import apply_to_iterator  # noqa: F401
from fasterrcnn.chainercv.utils.iterator import unzip  # noqa: F401
from fasterrcnn.chainercv.utils.testing import assert_is_bbox  # noqa: F401
from fasterrcnn.chainercv.utils.testing import \
    assert_is_detection_link  # noqa: F401
from fasterrcnn.chainercv.utils.testing import \
    generate_random_bbox  # noqa: F401


def bbox_iou(bbox_a, bbox_b):
    """IoU of every pair of boxes, as chainercv computes it.

    Args:
        bbox_a (array): ``(N, 4)`` float boxes, ``(y_min, x_min, y_max,
            x_max)``.
        bbox_b (array): ``(K, 4)`` float boxes, same order.

    Returns:
        array: ``(N, K)`` IoU in the inputs' dtype; NaN for a pair whose
        union has no area.

    Raises:
        IndexError: an input is not ``(R, 4)`` (a
            :class:`fasterrcnn.boxes.BoxShapeError`).
    """
    return boxes.bbox_iou(bbox_a, bbox_b, nan_for_empty=True)


def non_maximum_suppression(bbox, thresh, score=None, limit=None):
    """Greedy NMS with chainercv's rule: a box is suppressed when its IoU
    with a kept box is >= ``thresh`` (in the boxes' dtype).

    Args:
        bbox (array): ``(R, 4)`` boxes, ``(y_min, x_min, y_max, x_max)``;
            NumPy or CuPy.
        thresh (float): the IoU threshold.
        score (array or None): ``(R,)`` scores; highest first (among equal
            scores the earlier box first; chainercv's order there was
            unspecified). None keeps the given order.
        limit (int or None): keep at most this many.

    Returns:
        array: ``(K,)`` int32 indices of the kept boxes, in the order kept.
    """
    return nms.non_maximum_suppression(bbox, thresh, score, limit,
                                       inclusive=True)
