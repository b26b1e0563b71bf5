"""The model links: VGG16, RPN, head, FasterRCNNVGG16, train chain."""

import numpy
import pytest

import chainer

from fasterrcnn.links import FasterRCNNTrainChain, FasterRCNNVGG16
from fasterrcnn.links.vgg16 import VGG16

TINY = dict(extractor_channels=(4, 4, 8, 8, 8), fc_size=16, min_size=64,
            max_size=96)


def tiny_model(n_fg_class=3, **kwargs):
    params = dict(TINY)
    params.update(kwargs)
    return FasterRCNNVGG16(n_fg_class, **params)


def random_image(rng, h, w):
    return rng.uniform(0, 255, (3, h, w)).astype(numpy.float32)


@pytest.mark.parametrize('size,expected', [((64, 80), (4, 5)),
                                           ((47, 95), (2, 5)),
                                           ((16, 31), (1, 1))])
def test_extractor_floors_at_each_pooling(size, expected):
    extractor = VGG16((4, 4, 4, 4, 4))
    x = numpy.zeros((1, 3) + size, numpy.float32)
    assert extractor(x).shape == (1, 4) + expected


def test_frozen_conv12_get_no_gradient_nor_update():
    extractor = VGG16((4, 4, 4, 4, 4), freeze_conv12=True)
    x = numpy.random.RandomState(0).randn(1, 3, 32, 32).astype(numpy.float32)
    extractor.cleargrads()
    chainer.functions.sum(extractor(x)).backward()
    frozen = extractor.frozen_links()
    assert frozen == [extractor.conv1_1, extractor.conv1_2, extractor.conv2_1,
                      extractor.conv2_2]
    for link in frozen:
        assert link.W.grad is None and link.b.grad is None
    assert extractor.conv3_1.W.grad is not None
    optimizer = chainer.optimizers.MomentumSGD(lr=0.1)
    optimizer.setup(extractor)
    optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(0.1))
    for link in frozen:
        link.disable_update()
    before = extractor.conv1_1.W.array.copy()
    optimizer.update()
    numpy.testing.assert_array_equal(extractor.conv1_1.W.array, before)
    assert not extractor.conv1_1.update_enabled
    assert extractor.conv3_1.update_enabled
    unfrozen = VGG16((4, 4, 4, 4, 4), freeze_conv12=False)
    unfrozen.cleargrads()
    chainer.functions.sum(unfrozen(x)).backward()
    assert unfrozen.conv1_1.W.grad is not None


def test_rpn_output_shapes_and_anchor_order():
    model = tiny_model()
    x = numpy.random.RandomState(0).randn(1, 3, 64, 96).astype(numpy.float32)
    h = model.extractor(x)
    with chainer.using_config('train', False):
        locs, scores, rois, roi_indices, anchor = model.rpn(h, (64, 96), 1.)
    assert locs.shape == (1, 4 * 6 * 9, 4)
    assert scores.shape == (1, 4 * 6 * 9, 2)
    assert anchor.shape == (4 * 6 * 9, 4)
    assert rois.dtype == numpy.float32 and roi_indices.dtype == numpy.int32
    assert len(rois) == len(roi_indices) <= 300


def test_initialisation_of_the_outputs():
    model = FasterRCNNVGG16(20, extractor_channels=(4, 4, 8, 8, 64),
                            fc_size=512)
    assert model.n_class == 21
    assert model.rpn.score.W.shape == (18, 64, 1, 1)
    assert abs(float(model.rpn.score.W.array.std()) - 0.01) < 0.002
    assert abs(float(model.head.cls_loc.W.array.std()) - 0.001) < 0.0002
    assert abs(float(model.head.score.W.array.std()) - 0.01) < 0.002
    assert (model.head.score.b.array == 0).all()


def test_predict_on_images_of_several_sizes():
    model = tiny_model()
    model.use_preset('evaluate')
    model.score_thresh = 0.
    rng = numpy.random.RandomState(0)
    imgs = [random_image(rng, 50, 70), random_image(rng, 120, 40),
            random_image(rng, 10, 12)]       # smaller than one stride
    bboxes, labels, scores = model.predict(imgs)
    assert len(bboxes) == len(labels) == len(scores) == 3
    for img, bbox, label, score in zip(imgs, bboxes, labels, scores):
        h, w = img.shape[1:]
        assert bbox.dtype == numpy.float32 and bbox.shape[1] == 4
        assert label.dtype == numpy.int32 and score.dtype == numpy.float32
        assert len(bbox) == len(label) == len(score)
        # the tiny image is resized 6.4 times: its proposals must be 16
        # original pixels a side, which these random weights do not give
        assert len(bbox) > 0 or h < 16
        # boxes are in the original image's pixels
        assert (bbox[:, 0::2] >= 0).all() and (bbox[:, 0::2] <= h).all()
        assert (bbox[:, 1::2] >= 0).all() and (bbox[:, 1::2] <= w).all()
        assert ((label >= 0) & (label < 3)).all()
        assert ((score > 0) & (score <= 1)).all()


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


def test_network_input_smaller_than_one_stride_is_a_clear_error():
    model = tiny_model()
    with pytest.raises(ValueError, match='at least 16'):
        model(numpy.zeros((1, 3, 12, 40), numpy.float32))


def train_example(rng):
    img = rng.uniform(-1, 1, (1, 3, 64, 96)).astype(numpy.float32)
    bbox = numpy.array([[[10, 10, 40, 50], [20, 40, 60, 90]]], numpy.float32)
    label = numpy.array([[0, 2]], numpy.int32)
    return img, bbox, label


def test_train_chain_reports_the_losses_and_is_reproducible():
    rng = numpy.random.RandomState(0)
    img, bbox, label = train_example(rng)
    results = []
    for _ in range(2):
        chain = FasterRCNNTrainChain(tiny_model(), random_state=3)
        chain.faster_rcnn.copyparams(results[0][0]) if results else None
        reporter = chainer.Reporter()
        reporter.add_observer('main', chain)
        observation = {}
        with reporter.scope(observation):
            loss = chain(img, bbox, label, numpy.array([1.0]))
        results.append((chain.faster_rcnn, observation, float(loss.array)))
    observation = results[0][1]
    for key in ('rpn_loc_loss', 'rpn_cls_loss', 'roi_loc_loss',
                'roi_cls_loss', 'loss'):
        assert 'main/' + key in observation
        assert numpy.isfinite(float(observation['main/' + key].array))
    assert results[0][2] == results[1][2]


def test_train_chain_without_ground_truth():
    rng = numpy.random.RandomState(1)
    img, _, _ = train_example(rng)
    chain = FasterRCNNTrainChain(tiny_model(), random_state=0)
    chain.cleargrads()
    loss = chain(img, numpy.zeros((1, 0, 4), numpy.float32),
                 numpy.zeros((1, 0), numpy.int32), 1.0)
    assert numpy.isfinite(float(loss.array))
    loss.backward()
    assert numpy.isfinite(chain.faster_rcnn.head.score.W.grad).all()


def test_train_chain_takes_one_image():
    rng = numpy.random.RandomState(2)
    img, bbox, label = train_example(rng)
    chain = FasterRCNNTrainChain(tiny_model())
    with pytest.raises(ValueError, match='one image'):
        chain(numpy.concatenate([img, img]), bbox, label, 1.0)


def test_head_with_no_roi():
    model = tiny_model()
    h = model.extractor(numpy.zeros((1, 3, 32, 32), numpy.float32))
    cls_loc, score = model.head(h, numpy.zeros((0, 4), numpy.float32),
                                numpy.zeros((0,), numpy.int32))
    assert cls_loc.shape == (0, 16) and score.shape == (0, 4)
