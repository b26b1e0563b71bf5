"""fasterrcnn.chainercv has chainercv's names, signatures and defaults, and
the utilities / evaluation keep chainercv's semantics."""

import inspect

import chainer
import numpy
import pytest
from PIL import Image

import fasterrcnn.chainercv as cv
from fasterrcnn.chainercv.links.model import faster_rcnn as frc

REQUIRED = inspect.Parameter.empty
LOC_MEAN = (0., 0., 0., 0.)
LOC_STD = (0.1, 0.1, 0.2, 0.2)

#: chainercv's signatures (from its documentation): (callable, [(name,
#: default), ...]); REQUIRED marks a parameter without a default.
SIGNATURES = [
    (frc.FasterRCNNVGG16, [
        ('n_fg_class', None), ('pretrained_model', None),
        ('min_size', 600), ('max_size', 1000), ('ratios', [0.5, 1, 2]),
        ('anchor_scales', [8, 16, 32]), ('vgg_initialW', None),
        ('rpn_initialW', None), ('loc_initialW', None),
        ('score_initialW', None), ('proposal_creator_params', {})]),
    (frc.FasterRCNN, [
        ('extractor', REQUIRED), ('rpn', REQUIRED), ('head', REQUIRED),
        ('mean', REQUIRED), ('min_size', 600), ('max_size', 1000),
        ('loc_normalize_mean', LOC_MEAN), ('loc_normalize_std', LOC_STD)]),
    (frc.FasterRCNN.forward, [('self', REQUIRED), ('x', REQUIRED),
                              ('scales', None)]),
    (frc.RegionProposalNetwork, [
        ('in_channels', 512), ('mid_channels', 512),
        ('ratios', [0.5, 1, 2]), ('anchor_scales', [8, 16, 32]),
        ('feat_stride', 16), ('initialW', None),
        ('proposal_creator_params', {})]),
    (frc.RegionProposalNetwork.forward, [
        ('self', REQUIRED), ('x', REQUIRED), ('img_size', REQUIRED),
        ('scales', None)]),
    (frc.VGG16RoIHead, [
        ('n_class', REQUIRED), ('roi_size', REQUIRED),
        ('spatial_scale', REQUIRED), ('vgg_initialW', None),
        ('loc_initialW', None), ('score_initialW', None)]),
    (frc.AnchorTargetCreator, [
        ('n_sample', 256), ('pos_iou_thresh', 0.7), ('neg_iou_thresh', 0.3),
        ('pos_ratio', 0.5)]),
    (frc.AnchorTargetCreator.__call__, [
        ('self', REQUIRED), ('bbox', REQUIRED), ('anchor', REQUIRED),
        ('img_size', REQUIRED)]),
    (frc.ProposalTargetCreator, [
        ('n_sample', 128), ('pos_ratio', 0.25), ('pos_iou_thresh', 0.5),
        ('neg_iou_thresh_hi', 0.5), ('neg_iou_thresh_lo', 0.0)]),
    (frc.ProposalTargetCreator.__call__, [
        ('self', REQUIRED), ('roi', REQUIRED), ('bbox', REQUIRED),
        ('label', REQUIRED), ('loc_normalize_mean', LOC_MEAN),
        ('loc_normalize_std', LOC_STD)]),
    (frc.ProposalCreator, [
        ('nms_thresh', 0.7), ('n_train_pre_nms', 12000),
        ('n_train_post_nms', 2000), ('n_test_pre_nms', 6000),
        ('n_test_post_nms', 300), ('force_cpu_nms', False),
        ('min_size', 16)]),
    (frc.ProposalCreator.__call__, [
        ('self', REQUIRED), ('loc', REQUIRED), ('score', REQUIRED),
        ('anchor', REQUIRED), ('img_size', REQUIRED), ('scale', 1.)]),
    (frc.bbox2loc, [('src_bbox', REQUIRED), ('dst_bbox', REQUIRED)]),
    (frc.loc2bbox, [('src_bbox', REQUIRED), ('loc', REQUIRED)]),
    (frc.generate_anchor_base, [
        ('base_size', 16), ('ratios', [0.5, 1, 2]),
        ('anchor_scales', [8, 16, 32])]),
    (cv.utils.bbox_iou, [('bbox_a', REQUIRED), ('bbox_b', REQUIRED)]),
    (cv.utils.non_maximum_suppression, [
        ('bbox', REQUIRED), ('thresh', REQUIRED), ('score', None),
        ('limit', None)]),
    (cv.utils.generate_random_bbox, [
        ('n', REQUIRED), ('img_size', REQUIRED), ('min_length', REQUIRED),
        ('max_length', REQUIRED)]),
    (cv.utils.assert_is_bbox, [('bbox', REQUIRED), ('size', None)]),
    (cv.utils.assert_is_detection_link, [('link', REQUIRED),
                                         ('n_fg_class', REQUIRED)]),
    (cv.utils.read_image, [('file', REQUIRED), ('dtype', numpy.float32),
                           ('color', True), ('alpha', None)]),
    (cv.evaluations.eval_detection_voc, [
        ('pred_bboxes', REQUIRED), ('pred_labels', REQUIRED),
        ('pred_scores', REQUIRED), ('gt_bboxes', REQUIRED),
        ('gt_labels', REQUIRED), ('gt_difficults', None),
        ('iou_thresh', 0.5), ('use_07_metric', False)]),
    (cv.evaluations.calc_detection_voc_prec_rec, [
        ('pred_bboxes', REQUIRED), ('pred_labels', REQUIRED),
        ('pred_scores', REQUIRED), ('gt_bboxes', REQUIRED),
        ('gt_labels', REQUIRED), ('gt_difficults', None),
        ('iou_thresh', 0.5)]),
    (cv.evaluations.calc_detection_voc_ap, [
        ('prec', REQUIRED), ('rec', REQUIRED), ('use_07_metric', False)]),
    (cv.extensions.DetectionVOCEvaluator, [
        ('iterator', REQUIRED), ('target', REQUIRED),
        ('use_07_metric', False), ('label_names', None), ('comm', None)]),
    (cv.datasets.VOCBboxDataset, [
        ('data_dir', 'auto'), ('split', 'train'), ('year', '2012'),
        ('use_difficult', False), ('return_difficult', False)]),
    (cv.transforms.resize, [('img', REQUIRED), ('size', REQUIRED),
                            ('interpolation', Image.BILINEAR)]),
    (cv.transforms.flip, [('img', REQUIRED), ('y_flip', False),
                          ('x_flip', False), ('copy', False)]),
    (cv.transforms.random_flip, [
        ('img', REQUIRED), ('y_random', False), ('x_random', False),
        ('return_param', False), ('copy', False)]),
    (cv.transforms.resize_bbox, [('bbox', REQUIRED), ('in_size', REQUIRED),
                                 ('out_size', REQUIRED)]),
    (cv.transforms.flip_bbox, [('bbox', REQUIRED), ('size', REQUIRED),
                               ('y_flip', False), ('x_flip', False)]),
    (cv.visualizations.vis_bbox, [
        ('img', REQUIRED), ('bbox', REQUIRED), ('label', None),
        ('score', None), ('label_names', None), ('instance_colors', None),
        ('alpha', 1.), ('linewidth', 3.), ('sort_by_score', True),
        ('ax', None)]),
    (cv.visualizations.vis_image, [('img', REQUIRED), ('ax', None)]),
]


def _plain(value):
    """Tuples as lists, so that (0.5, 1, 2) and [0.5, 1, 2] compare."""
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize('function,expected', SIGNATURES,
                         ids=[f.__qualname__ for f, _ in SIGNATURES])
def test_signature_is_chainercvs(function, expected):
    parameters = inspect.signature(function).parameters.values()
    got = [(p.name, _plain(p.default)) for p in parameters]
    assert got == [(name, _plain(default)) for name, default in expected]


def test_train_chain_signature():
    parameters = list(inspect.signature(
        frc.FasterRCNNTrainChain).parameters.values())
    assert [p.name for p in parameters] == [
        'faster_rcnn', 'rpn_sigma', 'roi_sigma', 'anchor_target_creator',
        'proposal_target_creator']
    assert (parameters[1].default, parameters[2].default) == (3., 1.)
    assert isinstance(parameters[3].default, frc.AnchorTargetCreator)
    assert isinstance(parameters[4].default, frc.ProposalTargetCreator)


def test_names_at_chainercv_paths():
    assert cv.links.FasterRCNNVGG16 is frc.FasterRCNNVGG16
    assert cv.utils.testing.assert_is_bbox is cv.utils.assert_is_bbox
    assert len(cv.datasets.voc_bbox_label_names) == 20
    assert issubclass(cv.extensions.DetectionVOCEvaluator,
                      chainer.training.extensions.Evaluator)


def test_bbox_iou_as_chainercv():
    a = numpy.array([[5, 5, 5, 5], [0, 0, 10, 10]], numpy.float32)
    iou = cv.utils.bbox_iou(a, a)
    assert numpy.isnan(iou[0, 0]) and iou[1, 1] == 1
    with pytest.raises(IndexError):
        cv.utils.bbox_iou(numpy.zeros((1, 3)), a)


def test_nms_as_chainercv():
    bbox = numpy.array([[0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30]],
                       numpy.float32)
    keep = cv.utils.non_maximum_suppression(bbox, 0.5)
    numpy.testing.assert_array_equal(keep, [0, 2])
    assert keep.dtype == numpy.int32
    # The integer-box bug, fixed here too: boxes taken as float64.
    bbox = numpy.array([[0, 0, 4, 4], [1, 1, 5, 5], [2, 1, 6, 5],
                        [4, 0, 8, 4]])
    assert cv.utils.non_maximum_suppression(bbox, 0.5).tolist() == [0, 1, 3]


def test_voc_curves_as_chainercv():
    # Class 1 never occurs; class 0's first detection hits a difficult box;
    # class 2 has only a difficult box.
    box = numpy.array([[0, 0, 9, 9]], numpy.float32)
    other = numpy.array([[50, 50, 59, 59]], numpy.float32)
    far = numpy.array([[90, 90, 99, 99]], numpy.float32)
    prec, rec = cv.evaluations.calc_detection_voc_prec_rec(
        [numpy.concatenate((other, box))], [numpy.array([0, 0])],
        [numpy.array([0.9, 0.8])], [numpy.concatenate((box, other, far))],
        [numpy.array([0, 0, 2])], [numpy.array([False, True, True])])
    assert len(prec) == 3
    assert prec[1] is None and rec[1] is None
    numpy.testing.assert_allclose(prec[0], [numpy.nan, 1])
    numpy.testing.assert_allclose(rec[0], [0, 1])
    assert rec[2] is None and len(prec[2]) == 0
    result = cv.evaluations.eval_detection_voc(
        [box], [numpy.array([0])], [numpy.array([0.9])], [box],
        [numpy.array([0])])
    assert result['map'] == 1.0


def test_voc_ap_treats_nan_precision_as_zero():
    # The second bug: NaN precision counts as 0, in both metrics.
    prec = [numpy.array([numpy.nan, 0.5])]
    rec = [numpy.array([0., 1.])]
    for use_07_metric in (False, True):
        ap = cv.evaluations.calc_detection_voc_ap(prec, rec, use_07_metric)
        assert ap[0] == pytest.approx(0.5)
