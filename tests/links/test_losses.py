"""Faster R-CNN losses (fasterrcnn/links/losses.py), hand-computed."""

import math

import chainer
import numpy
import pytest

from fasterrcnn.links.losses import faster_rcnn_losses, loc_loss, smooth_l1


def test_smooth_l1_both_branches():
    x = chainer.Variable(numpy.array([[0.05, 0.5, -2.0, 0.0]], numpy.float32))
    t = numpy.zeros((1, 4), numpy.float32)
    w = numpy.ones((1, 4), numpy.float32)
    # sigma 3: quadratic below 1/9: 4.5 * 0.05^2; linear above: |d| - 1/18
    expected = 4.5 * 0.0025 + (0.5 - 1 / 18) + (2.0 - 1 / 18)
    assert float(smooth_l1(x, t, w, 3.).array) == pytest.approx(expected,
                                                                rel=1e-6)
    # sigma 1: quadratic below 1: 0.5 d^2, linear |d| - 0.5
    expected = 0.5 * 0.0025 + 0.5 * 0.25 + 1.5
    assert float(smooth_l1(x, t, w, 1.).array) == pytest.approx(expected,
                                                                rel=1e-6)


def test_loc_loss_counts_positives_divides_by_non_ignored():
    pred = chainer.Variable(numpy.array(
        [[1, 0, 0, 0], [5, 5, 5, 5], [9, 9, 9, 9]], numpy.float32))
    gt = numpy.zeros((3, 4), numpy.float32)
    label = numpy.array([1, 0, -1], numpy.int32)
    # only row 0 counts: |1| - 0.5 = 0.5; divided by 2 non-ignored rows
    assert float(loc_loss(pred, gt, label, 1.).array) == pytest.approx(0.25)
    # nothing but ignored rows: 0, not NaN
    assert float(loc_loss(pred, gt, numpy.full(3, -1, numpy.int32),
                          1.).array) == 0


def test_all_four_losses_by_hand():
    rpn_loc = chainer.Variable(numpy.array([[0.1, 0, 0, 0], [0, 0, 0, 0]],
                                           numpy.float32))
    rpn_score = chainer.Variable(numpy.array([[0, 0], [2, 0]], numpy.float32))
    gt_rpn_loc = numpy.zeros((2, 4), numpy.float32)
    gt_rpn_label = numpy.array([1, -1], numpy.int32)
    roi_cls_loc = chainer.Variable(numpy.array(
        [[9, 9, 9, 9, 0.2, 0, 0, 0], [0, 0, 0, 0, 7, 7, 7, 7]],
        numpy.float32))
    roi_score = chainer.Variable(numpy.array([[0, 1], [0, 0]],
                                             numpy.float32))
    gt_roi_loc = numpy.zeros((2, 4), numpy.float32)
    gt_roi_label = numpy.array([1, 0], numpy.int32)
    losses = faster_rcnn_losses(rpn_loc, rpn_score, gt_rpn_loc, gt_rpn_label,
                                roi_cls_loc, roi_score, gt_roi_loc,
                                gt_roi_label)
    # RPN loc: 4.5 * 0.1^2 over 1 non-ignored anchor
    assert float(losses['rpn_loc_loss'].array) == pytest.approx(0.045)
    # RPN cls: -log(1/2) for the one labelled anchor
    assert float(losses['rpn_cls_loss'].array) == pytest.approx(math.log(2))
    # head loc: class 1's offsets of RoI 0 (0.2 -> 0.5 * 0.04), over 2 rows
    assert float(losses['roi_loc_loss'].array) == pytest.approx(0.01)
    # head cls: mean of -log softmax([0, 1])[1] and -log softmax([0, 0])[0]
    expected = (math.log(1 + math.e ** -1) + math.log(2)) / 2
    assert float(losses['roi_cls_loss'].array) == pytest.approx(expected)
    total = sum(float(losses[k].array) for k in
                ('rpn_loc_loss', 'rpn_cls_loss', 'roi_loc_loss',
                 'roi_cls_loss'))
    assert float(losses['loss'].array) == pytest.approx(total)
    losses['loss'].backward()
    # the head's loc gradient reaches only the ground-truth class's columns
    assert (roi_cls_loc.grad[0, :4] == 0).all()
    assert roi_cls_loc.grad[0, 4] != 0 and (roi_cls_loc.grad[1] == 0).all()
