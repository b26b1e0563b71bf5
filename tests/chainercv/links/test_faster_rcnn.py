"""chainercv's Faster R-CNN links on fasterrcnn (fasterrcnn.chainercv.links).

A tiny model made of chainercv's parts (the extractor and head narrowed)
runs in milliseconds; the full FasterRCNNVGG16 is built only where its
names and sizes are the point (slow).
"""

import chainer
import numpy
import pytest
from chainer import initializers

from fasterrcnn.boxes import generate_anchor_base
from fasterrcnn.chainercv.links.model.faster_rcnn import (
    AnchorTargetCreator, FasterRCNN, FasterRCNNTrainChain, FasterRCNNVGG16,
    ProposalCreator, ProposalTargetCreator, RegionProposalNetwork)
from fasterrcnn.chainercv.links.model.faster_rcnn.faster_rcnn_vgg import MEAN
from fasterrcnn.chainercv.transforms import resize
from fasterrcnn.chainercv.utils.testing import assert_is_detection_link
from fasterrcnn.creators import anchor_target, proposal_target
from fasterrcnn.links import train_chain
from fasterrcnn.links.backbones import vgg16
from fasterrcnn.links.backbones.vgg16 import conv_names

CHANNELS = (4, 4, 8, 8, 8)


def tiny_model(n_fg_class=3, seed=0):
    """chainercv's FasterRCNN of narrow parts, weights from ``seed``."""
    numpy.random.seed(seed)
    extractor = vgg16.VGG16(CHANNELS, freeze_conv12=False, cover_all=True,
                            activ_links=True,
                            initialW=initializers.Normal(0.01))
    rpn = RegionProposalNetwork(8, 8, initialW=initializers.Normal(0.01))
    head = vgg16.VGG16RoIHead(n_fg_class + 1, in_channels=8, fc_size=16,
                              roi_size=7, spatial_scale=1. / 16)
    return FasterRCNN(extractor, rpn, head, mean=MEAN.copy(), min_size=64,
                      max_size=96)


def test_chainercv_detection_link_check():
    model = tiny_model()
    model.use_preset('evaluate')
    numpy.random.seed(1)
    assert_is_detection_link(model, 3)


def test_prepare_truncates_and_subtracts_the_mean():
    model = tiny_model()
    img = numpy.random.RandomState(0).uniform(
        0, 255, (3, 50, 70)).astype(numpy.float32)
    x = model.prepare(img)
    # 64 / 50 = 1.28: 70 * 1.28 = 89.6 becomes 89 (our own prepare, as the
    # PyTorch version, rounds to 90).
    assert x.shape == (3, 64, 89) and x.dtype == numpy.float32
    numpy.testing.assert_array_equal(x, resize(img, (64, 89)) - MEAN)
    # The longer side bound: 30 x 200 would become 64 x 426 > 96.
    assert model.prepare(numpy.zeros((3, 30, 200), numpy.float32)).shape \
        == (3, 14, 96)


def test_extractor_rounds_odd_sizes_up():
    model = tiny_model()
    x = numpy.zeros((1, 3, 50, 70), numpy.float32)
    with chainer.no_backprop_mode():
        assert model.extractor(x).shape == (1, 8, 4, 5)
        model.extractor.cover_all = False
        assert model.extractor(x).shape == (1, 8, 3, 4)


def test_predict_suppresses_at_equal_iou():
    # Two RoIs of one class with IoU exactly 0.25 (50 / 200) at an NMS
    # threshold of 0.25: chainercv keeps one, the PyTorch version's rule
    # both.
    model = tiny_model(n_fg_class=1)
    model.nms_thresh = 0.25
    rois = numpy.array([[0, 0, 10, 10], [0, 5, 10, 20]], numpy.float32)
    roi_cls_loc = numpy.zeros((2, 8), numpy.float32)
    roi_score = numpy.array([[0, 9], [0, 8]], numpy.float32)
    bbox, label, score = model.decode(roi_cls_loc, roi_score, rois,
                                      (20, 20), 1.)
    numpy.testing.assert_array_equal(bbox, rois[:1])
    model.inclusive_nms = False
    bbox, _, _ = model.decode(roi_cls_loc, roi_score, rois, (20, 20), 1.)
    assert len(bbox) == 2


def test_rpn_ranks_proposals_by_logit():
    rpn = RegionProposalNetwork(
        8, 8, proposal_creator_params={'n_test_pre_nms': 50,
                                       'n_test_post_nms': 10})
    x = numpy.random.RandomState(2).normal(size=(2, 8, 5, 6)).astype(
        numpy.float32)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        rpn_locs, rpn_scores, rois, roi_indices, anchor = rpn(
            x, (80, 96), [1.0, 2.0])
        for i, scale in enumerate((1.0, 2.0)):
            expected = rpn.proposal_layer(
                rpn_locs.array[i], rpn_scores.array[i, :, 1], anchor,
                (80, 96), scale=scale)
            numpy.testing.assert_array_equal(rois[roi_indices == i],
                                             expected)
    assert rpn.proposal_score == 'logit'
    assert rpn.proposal_layer.inclusive_nms


@pytest.mark.parametrize('seed', [0, 1])
def test_target_creators_draw_from_numpy_global_state(seed):
    rng = numpy.random.RandomState(10)
    anchor = rng.uniform(0, 60, (400, 2)).astype(numpy.float32)
    anchor = numpy.concatenate((anchor, anchor + 20), axis=1)
    bbox = numpy.array([[5, 5, 30, 30], [30, 40, 55, 70]], numpy.float32)
    label = numpy.array([0, 2], numpy.int32)
    numpy.random.seed(seed)
    got = AnchorTargetCreator(n_sample=32)(bbox, anchor, (90, 90))
    want = anchor_target.AnchorTargetCreator(n_sample=32)(
        bbox, anchor, (90, 90), numpy.random.RandomState(seed))
    for g, w in zip(got, want):
        numpy.testing.assert_array_equal(g, w)
    numpy.random.seed(seed)
    got = ProposalTargetCreator(n_sample=16)(anchor, bbox, label)
    want = proposal_target.ProposalTargetCreator(n_sample=16)(
        anchor, bbox, label, numpy.random.RandomState(seed))
    for g, w in zip(got, want):
        numpy.testing.assert_array_equal(g, w)


def test_proposal_target_creator_n_sample_none_keeps_every_roi():
    roi = numpy.array([[0, 0, 10, 10], [50, 50, 60, 60], [0, 0, 9, 10]],
                      numpy.float32)
    bbox = numpy.array([[0, 0, 10, 10]], numpy.float32)
    sample_roi, _, gt_roi_label = ProposalTargetCreator(
        n_sample=None, pos_ratio=0.5)(roi, bbox, numpy.zeros(1, numpy.int32))
    # 4 RoIs with the ground truth (3 of them foreground): round(4 * 0.5)
    # = 2 foreground first, then the 1 background.
    assert len(sample_roi) == 3
    numpy.testing.assert_array_equal(gt_roi_label, [1, 1, 0])


def test_proposal_creator_signature_and_cpu_nms():
    creator = ProposalCreator(0.5, 100, 10, 50, 5, True, 4)
    assert (creator.force_cpu_nms, creator.min_size) == (True, 4)
    assert creator.inclusive_nms
    anchor = numpy.array([[0, 0, 20, 20], [0, 0, 20, 10], [0, 10, 20, 20]],
                         numpy.float32)
    loc = numpy.zeros((3, 4), numpy.float32)
    # Box 1 and 2 each have IoU exactly 0.5 with box 0.
    score = numpy.array([3., 2., 1.], numpy.float32)
    with chainer.using_config('train', False):
        numpy.testing.assert_array_equal(
            creator(loc, score, anchor, (20, 20)), anchor[:1])


def test_train_chain_equals_ours_with_the_same_draws():
    model = tiny_model()
    rng = numpy.random.RandomState(4)
    img = model.prepare(rng.uniform(0, 255, (3, 64, 80)).astype(
        numpy.float32))[None]
    bbox = numpy.array([[[4, 6, 40, 50], [20, 30, 60, 78]]], numpy.float32)
    label = numpy.array([[0, 2]], numpy.int32)
    scale = numpy.array([1.0], numpy.float32)
    numpy.random.seed(7)
    loss = FasterRCNNTrainChain(model)(img, bbox, label, scale)
    ours = train_chain.FasterRCNNTrainChain(
        model, random_state=numpy.random.RandomState(7))
    assert float(loss.array) == float(
        ours(img, bbox, label, scale).array)
    # Variables are taken as chainercv takes them.
    numpy.random.seed(7)
    again = FasterRCNNTrainChain(model)(
        chainer.Variable(img), chainer.Variable(bbox),
        chainer.Variable(label), chainer.Variable(scale))
    assert float(again.array) == float(loss.array)


def test_box_utilities_are_ours():
    numpy.testing.assert_array_equal(
        generate_anchor_base(),
        __import__('fasterrcnn.chainercv.links.model.faster_rcnn',
                   fromlist=['x']).generate_anchor_base())


def test_n_fg_class_is_required():
    with pytest.raises(ValueError, match='n_fg_class must be specified'):
        FasterRCNNVGG16()


def chainercv_names(n_fg_class=20):
    """The entries of chainercv's FasterRCNNVGG16 ``.npz``, with shapes."""
    names = {}
    in_channels = 3
    for name, width in zip(conv_names(),
                           (64,) * 2 + (128,) * 2 + (256,) * 3 + (512,) * 6):
        names['extractor/{}/conv/W'.format(name)] = (width, in_channels, 3, 3)
        names['extractor/{}/conv/b'.format(name)] = (width,)
        in_channels = width
    for name, shape in (('conv1', (512, 512, 3, 3)),
                        ('score', (18, 512, 1, 1)),
                        ('loc', (36, 512, 1, 1))):
        names['rpn/{}/W'.format(name)] = shape
        names['rpn/{}/b'.format(name)] = shape[:1]
    n_class = n_fg_class + 1
    for name, shape in (('fc6', (4096, 25088)), ('fc7', (4096, 4096)),
                        ('cls_loc', (4 * n_class, 4096)),
                        ('score', (n_class, 4096))):
        names['head/{}/W'.format(name)] = shape
        names['head/{}/b'.format(name)] = shape[:1]
    return names


@pytest.mark.slow
def test_full_model_has_chainercv_names_and_shapes():
    model = FasterRCNNVGG16(n_fg_class=20)
    params = {name.lstrip('/'): param.shape
              for name, param in model.namedparams()}
    assert params == chainercv_names()
    # chainercv's initialisation: N(0, 0.01) convolutions, LeCun fc6.
    w = model.extractor.conv4_1.conv.W.array
    assert abs(float(w.std()) - 0.01) < 0.001
    fc6 = model.head.fc6.W.array[:256]
    assert abs(float(fc6.std()) - (1 / 25088) ** 0.5) < 0.0005
