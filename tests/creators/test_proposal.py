"""ProposalCreator (fasterrcnn/creators/proposal.py)."""

import chainer
import numpy

from fasterrcnn.boxes import enumerate_shifted_anchor, generate_anchor_base
from fasterrcnn.creators import ProposalCreator


def anchors(h=6, w=8, scales=(8, 16, 32)):
    return enumerate_shifted_anchor(
        generate_anchor_base(anchor_scales=scales), 16, h, w)


def test_counts_in_train_and_test_mode():
    anchor = anchors(12, 16, scales=(1, 2))
    rng = numpy.random.RandomState(0)
    loc = rng.normal(0, 0.1, anchor.shape).astype(numpy.float32)
    score = rng.uniform(size=len(anchor)).astype(numpy.float32)
    creator = ProposalCreator(n_train_pre_nms=100, n_train_post_nms=20,
                              n_test_pre_nms=50, n_test_post_nms=5)
    with chainer.using_config('train', True):
        train = creator(loc, score, anchor, (192, 256))
    with chainer.using_config('train', False):
        test = creator(loc, score, anchor, (192, 256))
    assert len(train) == 20 and len(test) == 5
    for roi in (train, test):
        assert roi.dtype == numpy.float32
        assert (roi[:, 0::2] >= 0).all() and (roi[:, 0::2] <= 192).all()
        assert (roi[:, 1::2] >= 0).all() and (roi[:, 1::2] <= 256).all()


def test_min_size_scales_with_the_image():
    anchor = numpy.array([[0, 0, 20, 20], [0, 0, 40, 40]], numpy.float32)
    loc = numpy.zeros((2, 4), numpy.float32)
    score = numpy.array([0.9, 0.1], numpy.float32)
    creator = ProposalCreator(min_size=16)
    numpy.testing.assert_array_equal(
        creator(loc, score, anchor, (100, 100), scale=1.), anchor)
    # at scale 1.5 the smallest side must be 24 px
    numpy.testing.assert_array_equal(
        creator(loc, score, anchor, (100, 100), scale=1.5), anchor[1:])


def test_highest_score_first_and_overlaps_removed():
    anchor = numpy.array([[0, 0, 32, 32], [1, 1, 33, 33], [50, 50, 90, 90]],
                         numpy.float32)
    loc = numpy.zeros((3, 4), numpy.float32)
    score = numpy.array([0.5, 0.9, 0.7], numpy.float32)
    roi = ProposalCreator()(loc, score, anchor, (100, 100))
    numpy.testing.assert_array_equal(roi, anchor[[1, 2]])


def test_inf_and_nan_network_output_gives_finite_proposals():
    anchor = anchors(3, 3)
    rng = numpy.random.RandomState(1)
    loc = rng.normal(0, 0.1, anchor.shape).astype(numpy.float32)
    score = rng.uniform(size=len(anchor)).astype(numpy.float32)
    loc[0] = numpy.inf
    loc[1] = [numpy.nan, 0, 0, 0]
    loc[2, 2:] = 1e4                  # huge log-scale: box grows past image
    score[3] = numpy.nan
    roi = ProposalCreator()(loc, score, anchor, (48, 48))
    assert len(roi) > 0 and numpy.isfinite(roi).all()


def test_image_smaller_than_every_anchor():
    # Every proposal is clipped to a 10 x 10 image and is below min_size.
    anchor = anchors(1, 1)
    roi = ProposalCreator()(numpy.zeros_like(anchor),
                            numpy.ones(len(anchor), numpy.float32), anchor,
                            (10, 10))
    assert roi.shape == (0, 4)
