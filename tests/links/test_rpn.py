"""Region proposal network (fasterrcnn/links/rpn.py)."""

import chainer
import numpy

from fasterrcnn.links.rpn import RegionProposalNetwork
from tests.support.dummy_model import tiny_model


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
    # The 9 anchors of a cell are together, cells in row-major order: the
    # second cell's anchors are the first's moved one stride right.
    numpy.testing.assert_allclose(anchor[9:18] - anchor[:9],
                                  numpy.tile([0, 16, 0, 16], (9, 1)),
                                  atol=1e-5)  # float32 sums of ~300 px


def test_every_image_gets_its_proposals():
    rpn = RegionProposalNetwork(4, 4, anchor_scales=(1, 2),
                                proposal_creator_params={
                                    'n_test_post_nms': 5})
    x = numpy.random.RandomState(1).randn(2, 4, 4, 5).astype(numpy.float32)
    with chainer.using_config('train', False):
        locs, scores, rois, roi_indices, anchor = rpn(x, (64, 80), 1.)
    assert locs.shape == (2, 4 * 5 * 6, 4) and len(anchor) == 4 * 5 * 6
    assert set(roi_indices.tolist()) <= {0, 1}
    assert (numpy.diff(roi_indices) >= 0).all()  # image 0 first
    assert len(rois) <= 10
