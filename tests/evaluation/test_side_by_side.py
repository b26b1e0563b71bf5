"""Small images predicted side by side (evaluation/side_by_side.py)."""

import threading

import chainer
import numpy
import pytest

from fasterrcnn import cpu_threads
from fasterrcnn.evaluation import side_by_side
from fasterrcnn.evaluation.evaluate import predict_examples
from fasterrcnn.functions.roi_pooling.numpy_workspace import workspace
from tests.support.dummy_model import random_image, tiny_model


@pytest.fixture
def two_cores(monkeypatch):
    """The rule as on a 2-core machine, whatever this one has."""
    monkeypatch.setattr(cpu_threads, '_cpu_count', 2)


def examples(sizes, seed=0):
    rng = numpy.random.RandomState(seed)
    box = numpy.zeros((0, 4), numpy.float32)
    label = numpy.zeros(0, numpy.int32)
    return [(random_image(rng, h, w), box, label) for h, w in sizes]


def alone_on_one_core(model, img):
    """``model.predict([img])`` as a job of its own (the BLAS at one
    thread), nothing beside it."""
    return cpu_threads.run_side_by_side(lambda: model.predict([img]))[0]


def assert_same(pred, i, expected):
    for k in range(3):
        numpy.testing.assert_array_equal(pred[k][i], expected[k][0])


def test_each_small_image_gets_its_detections_on_one_core(two_cores):
    model = tiny_model()
    model.use_preset('evaluate')
    # Five images (an odd count: the last goes alone), of other sizes.
    data = examples([(64, 80), (70, 64), (64, 64), (90, 64), (64, 72)])
    preds, _ = predict_examples(model, data)
    assert sum(len(bbox) for bbox in preds[0]) > 0
    for i, example in enumerate(data):
        assert_same(preds, i, alone_on_one_core(model, example[0]))
    # Whoever is beside it: the reversed order pairs other images.
    reverse, _ = predict_examples(model, data[::-1])
    for i in range(len(data)):
        for k in range(3):
            numpy.testing.assert_array_equal(reverse[k][len(data) - 1 - i],
                                             preds[k][i])


def test_large_images_and_the_switch_predict_as_predict_alone(
        two_cores, monkeypatch):
    model = tiny_model()
    model.use_preset('evaluate')
    data = examples([(64, 80), (64, 96), (64, 64)])
    # The tiny model's images (64 x 80 and so on) count as large here.
    monkeypatch.setattr(side_by_side, 'SMALL_PIXELS', 64 * 64)
    preds, _ = predict_examples(model, data)
    for i, example in enumerate(data):
        plain = model.predict([example[0]])
        if i == 2:      # 64 x 64: still small
            assert_same(preds, i, alone_on_one_core(model, example[0]))
        else:
            assert_same(preds, i, plain)
    monkeypatch.undo()
    with chainer.using_config('fasterrcnn_side_by_side', False):
        assert side_by_side.lanes(model) == 1
        preds, _ = predict_examples(model, data)
    for i, example in enumerate(data):
        assert_same(preds, i, model.predict([example[0]]))


def test_lanes(two_cores, monkeypatch):
    model = tiny_model()
    assert side_by_side.lanes(model) == 2
    with chainer.using_config('fasterrcnn_side_by_side', False):
        assert side_by_side.lanes(model) == 1

    class OnGpu(object):
        xp = object()
    assert side_by_side.lanes(OnGpu()) == 1
    # Not on the main thread (the BLAS's count is set there only).
    seen = []
    thread = threading.Thread(target=lambda: seen.append(
        side_by_side.lanes(model)))
    thread.start()
    thread.join()
    assert seen == [1]
    # Other core counts were not measured: one at a time.
    for count in (1, 3, 4):
        monkeypatch.setattr(cpu_threads, '_cpu_count', count)
        assert side_by_side.lanes(model) == 1


def test_is_small_counts_the_resized_pixels():
    model = tiny_model(min_size=600, max_size=1000)
    img = numpy.zeros((3, 100, 100), numpy.float32)
    assert not side_by_side.is_small(model, [img])     # 600 x 600
    model.min_size = 500
    assert side_by_side.is_small(model, [img])         # 500 x 500
    assert not side_by_side.is_small(model, [img, numpy.zeros(
        (3, 100, 200), numpy.float32)])               # and 500 x 1000
    assert not side_by_side.is_small(model, [])
    assert not side_by_side.is_small(object(), [img])  # no min_size


class Probe(object):
    """A model that reports the Chainer setting it predicts under."""

    xp = numpy
    min_size = max_size = 16

    def __init__(self):
        self.seen = []

    def predict(self, imgs):
        self.seen.append((getattr(chainer.config, 'fasterrcnn_probe', None),
                          threading.current_thread().name))
        empty = numpy.zeros((0, 4), numpy.float32)
        return ([empty] * len(imgs), [numpy.zeros(0, numpy.int32)] *
                len(imgs), [numpy.zeros(0, numpy.float32)] * len(imgs))


def test_the_callers_chainer_settings_go_with_each_job(two_cores):
    probe = Probe()
    data = examples([(16, 16)] * 4)
    with chainer.using_config('fasterrcnn_probe', 7):
        preds, _ = predict_examples(probe, data)
    assert len(preds[0]) == 4
    assert [value for value, _ in probe.seen] == [7] * 4
    assert {name for _, name in probe.seen} != {'MainThread'}
    # ... and stay with them: the pool's threads keep none of them.
    after = []
    cpu_threads.run_parallel(lambda part: after.append(
        getattr(chainer.config, 'fasterrcnn_probe', None)), 2)
    assert after == [None, None]


def test_roi_pooling_scratch_is_per_lane():
    # Jobs at once never share a buffer; one lane reuses its own.
    barrier = threading.Barrier(2, timeout=10)

    def job():
        buf = workspace.get('lane-test', (8,), numpy.float32)
        lane = cpu_threads.lane()
        barrier.wait()
        return buf, lane
    (a, lane_a), (b, lane_b) = cpu_threads.run_side_by_side(job, job)
    assert (lane_a, lane_b) == (0, 1)
    assert not numpy.shares_memory(a, b)
    assert cpu_threads.lane() == 0
    assert numpy.shares_memory(workspace.get('lane-test', (8,),
                                             numpy.float32), a)
