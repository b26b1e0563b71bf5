"""Faster R-CNN: prepare, predict, presets (links/faster_rcnn.py)."""

import chainer
import numpy
import pytest

from tests.support.dummy_model import assert_is_detection_link, tiny_model


def test_predict_on_images_of_several_sizes():
    model = tiny_model()
    model.use_preset('evaluate')
    model.score_thresh = 0.
    sizes = [(50, 70), (120, 40), (10, 12)]    # the last under one stride
    bboxes, _, _ = assert_is_detection_link(model, 3, sizes)
    for (h, _), bbox in zip(sizes, bboxes):
        # the tiny image is resized 6.4 times: its proposals must be 16
        # original pixels a side, which these random weights do not give
        assert len(bbox) > 0 or h < 16


def test_presets_and_prepare():
    model = tiny_model()
    model.use_preset('visualize')
    assert (model.nms_thresh, model.score_thresh) == (0.3, 0.7)
    model.use_preset('evaluate')
    assert (model.nms_thresh, model.score_thresh) == (0.3, 0.05)
    with pytest.raises(ValueError, match='preset'):
        model.use_preset('fast')
    x, scale = model.prepare(numpy.zeros((3, 32, 64), numpy.float32))
    assert x.shape == (3, 48, 96) and scale == 1.5
    with pytest.raises(ValueError, match=r'\(3, H, W\)'):
        model.prepare(numpy.zeros((32, 64), numpy.float32))


def test_preset_is_lent_for_the_block():
    model = tiny_model()
    model.nms_thresh, model.score_thresh = 0.4, 0.2   # set by hand
    with model.preset('evaluate') as lent:
        assert lent is model
        assert (model.nms_thresh, model.score_thresh) == (0.3, 0.05)
    assert (model.nms_thresh, model.score_thresh) == (0.4, 0.2)


def test_preset_is_restored_after_an_exception():
    model = tiny_model()
    model.use_preset('evaluate')
    with pytest.raises(RuntimeError, match='stopped'):
        with model.preset('visualize'):
            assert model.score_thresh == 0.7
            raise RuntimeError('stopped')
    assert (model.nms_thresh, model.score_thresh) == (0.3, 0.05)
    # An unknown name changes nothing.
    with pytest.raises(ValueError, match='preset'):
        with model.preset('fast'):
            pass
    assert (model.nms_thresh, model.score_thresh) == (0.3, 0.05)


def test_predict_enters_test_mode_itself():
    # The one place that sets test mode: called in training mode, with
    # back-propagation on, predict still runs the network as in a test.
    model = tiny_model()
    model.score_thresh = 0.
    rng = numpy.random.RandomState(0)
    img = rng.uniform(0, 255, (3, 50, 70)).astype(numpy.float32)
    seen = []
    head = model.head.forward

    def spy(*args, **kwargs):
        seen.append((chainer.config.train, chainer.config.enable_backprop))
        return head(*args, **kwargs)
    model.head.forward = spy
    with chainer.using_config('train', True), \
            chainer.using_config('enable_backprop', True):
        bboxes, _, _ = model.predict([img])
        assert chainer.config.train and chainer.config.enable_backprop
    assert seen == [(False, False)]
    assert len(bboxes) == 1


def test_network_input_smaller_than_one_stride_is_a_clear_error():
    model = tiny_model()
    with pytest.raises(ValueError, match='at least 16'):
        model(numpy.zeros((1, 3, 12, 40), numpy.float32))


def test_a_batch_predicts_what_one_at_a_time_predicts():
    rng = numpy.random.RandomState(3)
    model = tiny_model(min_size=48, max_size=96)
    model.use_preset('evaluate')
    model.score_thresh = 0.0    # every box of every class is compared
    imgs = [rng.uniform(0, 255, size).astype(numpy.float32)
            for size in ((3, 50, 70), (3, 120, 40), (3, 64, 64))]
    together = model.predict(imgs)
    n_boxes = 0
    for i, img in enumerate(imgs):
        alone = model.predict([img])
        for got, want in zip(together, alone):
            numpy.testing.assert_allclose(got[i], want[0], rtol=1e-5,
                                          atol=1e-4)
        n_boxes += len(alone[0][0])
    assert n_boxes > 0
    assert model.predict([]) == ([], [], [])
