"""Non-maximum suppression (fasterrcnn/nms.py)."""

import numpy
import pytest

from fasterrcnn import nms as nms_module
from fasterrcnn.nms import non_maximum_suppression


def naive_nms(bbox, thresh, score=None, limit=None, inclusive=False):
    """Greedy NMS written from the definition, one box at a time.

    ``inclusive``: chainercv's rule, IoU >= the threshold in the boxes'
    dtype."""
    order = numpy.arange(len(bbox)) if score is None else \
        numpy.argsort(-score, kind='stable')
    keep = []
    for i in order:
        ok = True
        for j in keep:
            a, b = bbox[i], bbox[j]
            h = max(0, min(a[2], b[2]) - max(a[0], b[0]))
            w = max(0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = a.dtype.type(h) * a.dtype.type(w)
            area_a = (a[2] - a[0]) * (a[3] - a[1])
            area_b = (b[2] - b[0]) * (b[3] - b[1])
            iou = inter / (area_a + area_b - inter)
            if inclusive:
                over = iou >= bbox.dtype.type(thresh)
            else:
                # float IoU compared with a double threshold, as torchvision
                over = float(iou) > thresh
            if over:
                ok = False
                break
        if ok:
            keep.append(i)
            if limit is not None and len(keep) == limit:
                break
    return numpy.array(keep, dtype=numpy.int32)


def random_boxes(rng, n, size=200.):
    centre = rng.uniform(0, size, (n, 2))
    half = rng.uniform(2, 40, (n, 2))
    return numpy.concatenate((centre - half, centre + half), axis=1).astype(
        numpy.float32)


def test_hand_made_case():
    bbox = numpy.array([[0, 0, 10, 10],
                        [1, 1, 11, 11],    # IoU 81/119 = 0.68 with box 0
                        [0, 0, 10, 9],     # IoU 0.9 with box 0
                        [50, 50, 60, 60]], dtype=numpy.float32)
    score = numpy.array([0.9, 0.8, 0.95, 0.1], dtype=numpy.float32)
    keep = non_maximum_suppression(bbox, 0.7, score)
    assert keep.dtype == numpy.int32
    numpy.testing.assert_array_equal(keep, [2, 1, 3])
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, 0.5, score), [2, 3])
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, 0.7, score, limit=2), [2, 1])
    # no score: the given order
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, 0.7), [0, 1, 3])


def test_iou_equal_to_threshold_is_kept():
    # IoU exactly 0.5: suppressed only when greater than the threshold.
    bbox = numpy.array([[0, 0, 10, 10], [0, 0, 10, 5]], dtype=numpy.float32)
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, 0.5), [0, 1])
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, 0.49), [0])


def test_inclusive_suppresses_at_equal_iou():
    # chainercv's rule: IoU exactly 0.5 suppresses at threshold 0.5.
    bbox = numpy.array([[0, 0, 10, 10], [0, 0, 10, 5]], dtype=numpy.float32)
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, 0.5, inclusive=True), [0])
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, 0.51, inclusive=True), [0, 1])


def test_inclusive_threshold_rounds_to_nearest():
    # float32(0.7) < 0.7: chainercv compares in float32, so an IoU equal to
    # float32(0.7) suppresses with inclusive, and not without.
    t = numpy.float32(0.7)
    assert float(t) < 0.7
    assert nms_module._threshold(0.7, numpy.dtype(numpy.float32), True) == t
    iou = numpy.array([t])
    assert nms_module._overlaps(iou, t, True).all()
    t_below = nms_module._threshold(0.7, numpy.dtype(numpy.float32), False)
    assert not nms_module._overlaps(iou, t_below, False).any()


def test_threshold_that_rounds_up_in_float32():
    # float32(0.3) > 0.3: an IoU equal to float32(0.3) is > 0.3 and must be
    # suppressed, as torchvision's double comparison does.
    t = numpy.float32(0.3)
    assert float(t) > 0.3
    assert nms_module._threshold_below(0.3, numpy.dtype(numpy.float32)) < t
    assert nms_module._threshold_below(0.5, numpy.dtype(numpy.float32)) == \
        numpy.float32(0.5)


@pytest.mark.parametrize('inclusive', [False, True])
@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('thresh', [0.3, 0.5, 0.7])
def test_matches_naive_reference(seed, thresh, inclusive):
    rng = numpy.random.RandomState(seed)
    n = [0, 1, 5, 300, 600, 257][seed]
    bbox = random_boxes(rng, n)
    score = rng.uniform(size=n).astype(numpy.float32)
    if seed == 5:
        score = numpy.round(score, 1)   # many ties
    if seed == 4:
        # Boxes on a 4-pixel grid: many IoUs exactly equal to a threshold.
        bbox = numpy.round(bbox / 4) * 4
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, thresh, score, inclusive=inclusive),
        naive_nms(bbox, thresh, score, inclusive=inclusive))
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, thresh, score, limit=7,
                                inclusive=inclusive),
        naive_nms(bbox, thresh, score, limit=7, inclusive=inclusive))


def test_long_suppression_chains_within_a_block():
    # Boxes that each overlap the next: greedy keeps every other one.
    start = numpy.arange(600, dtype=numpy.float32) * 2
    bbox = numpy.stack([numpy.zeros_like(start), start,
                        numpy.full_like(start, 10), start + 3], axis=1)
    keep = non_maximum_suppression(bbox, 0.2)
    numpy.testing.assert_array_equal(keep, naive_nms(bbox, 0.2))
    numpy.testing.assert_array_equal(keep, numpy.arange(0, 600, 2))


def test_degenerate_and_identical_boxes():
    bbox = numpy.array([[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 4, 4],
                        [0, 0, 4, 4]], dtype=numpy.float32)
    # Empty boxes have IoU NaN (0 / 0) with each other and suppress nothing.
    numpy.testing.assert_array_equal(
        non_maximum_suppression(bbox, 0.5), [0, 1, 2])


def test_bad_input():
    with pytest.raises(ValueError, match=r'\(R, 4\)'):
        non_maximum_suppression(numpy.zeros((3, 5), numpy.float32), 0.5)
    with pytest.raises(ValueError, match='score'):
        non_maximum_suppression(numpy.zeros((3, 4), numpy.float32), 0.5,
                                numpy.zeros(2, numpy.float32))


@pytest.mark.gpu
@pytest.mark.parametrize('inclusive', [False, True])
@pytest.mark.parametrize('thresh', [0.3, 0.7])
def test_cupy_kernel_matches_numpy_twin(thresh, inclusive):
    import cupy
    rng = numpy.random.RandomState(3)
    bbox = random_boxes(rng, 3000, 400.)
    if inclusive:
        bbox = numpy.round(bbox / 4) * 4   # IoUs equal to the threshold
    score = rng.uniform(size=3000).astype(numpy.float32)
    expected = non_maximum_suppression(bbox, thresh, score,
                                       inclusive=inclusive)
    got = non_maximum_suppression(cupy.asarray(bbox), thresh,
                                  cupy.asarray(score), inclusive=inclusive)
    assert isinstance(got, cupy.ndarray)
    numpy.testing.assert_array_equal(cupy.asnumpy(got), expected)
    got = non_maximum_suppression(cupy.asarray(bbox), thresh,
                                  cupy.asarray(score), limit=50,
                                  inclusive=inclusive)
    numpy.testing.assert_array_equal(cupy.asnumpy(got), expected[:50])


@pytest.mark.parametrize('dtype', [numpy.int32, numpy.int64, numpy.uint8])
def test_integer_boxes_keep_what_float_boxes_keep(dtype):
    # With the threshold cast to the boxes' dtype, 0.5 became 0 and every
    # overlap suppressed: [0, 3] instead of [0, 1, 3].
    bbox = numpy.array([[0, 0, 4, 4], [1, 1, 5, 5], [2, 1, 6, 5],
                        [4, 0, 8, 4]])
    expected = non_maximum_suppression(bbox.astype(numpy.float32), 0.5)
    assert expected.tolist() == [0, 1, 3]
    assert non_maximum_suppression(bbox.astype(dtype),
                                   0.5).tolist() == [0, 1, 3]


@pytest.mark.parametrize('cores', [2, 3])
@pytest.mark.parametrize('inclusive', [False, True])
@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
def test_overlaps_on_several_cores_are_the_same_bits(monkeypatch, cores,
                                                     inclusive, dtype):
    # The rows of every overlap matrix split over the cores (the least
    # matrix too) keep what one core keeps (which test_matches_naive_
    # reference checks), with ties at the threshold, empty boxes and a
    # limit.
    rng = numpy.random.RandomState(7)
    bbox = numpy.round(random_boxes(rng, 700) / 4) * 4
    bbox[5] = bbox[6] = [10, 10, 10, 10]
    bbox = bbox.astype(dtype)
    score = numpy.round(rng.uniform(size=700), 2).astype(dtype)
    for thresh in (0.25, 0.5, 0.7):
        for limit in (None, 300):
            monkeypatch.setattr(nms_module, 'cpu_threads', lambda: 1)
            expected = non_maximum_suppression(
                bbox, thresh, score, limit=limit, inclusive=inclusive)
            with monkeypatch.context() as patch:
                patch.setattr(nms_module, 'cpu_threads', lambda: cores)
                patch.setattr(nms_module, '_PARALLEL_PAIRS', 1)
                got = non_maximum_suppression(
                    bbox, thresh, score, limit=limit, inclusive=inclusive)
            numpy.testing.assert_array_equal(got, expected)
