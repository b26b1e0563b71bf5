"""Faster R-CNN with its targets and losses (links/train_chain.py)."""

import chainer
import numpy
import pytest

from fasterrcnn.links import FasterRCNNTrainChain
from tests.support.dummy_model import tiny_model


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
        reporter = chainer.Reporter()
        reporter.add_observer('main', chain)
        observation = {}
        with reporter.scope(observation):
            loss = chain(img, bbox, label, numpy.array([1.0]))
        results.append((observation, float(loss.array)))
    observation = results[0][0]
    for key in ('rpn_loc_loss', 'rpn_cls_loss', 'roi_loc_loss',
                'roi_cls_loss', 'loss'):
        assert 'main/' + key in observation
        assert numpy.isfinite(float(observation['main/' + key].array))
    assert results[0][1] == results[1][1]


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


def test_train_chain_counts_must_agree():
    rng = numpy.random.RandomState(2)
    img, bbox, label = train_example(rng)
    chain = FasterRCNNTrainChain(tiny_model())
    with pytest.raises(ValueError, match='2 images but 1 box'):
        chain(numpy.concatenate([img, img]), bbox, label, 1.0)


def padded(imgs):
    """A batch of CHW images padded with zeros, and their sizes."""
    height = max(img.shape[1] for img in imgs)
    width = max(img.shape[2] for img in imgs)
    batch = numpy.zeros((len(imgs), 3, height, width), numpy.float32)
    for i, img in enumerate(imgs):
        batch[i, :, :img.shape[1], :img.shape[2]] = img
    return batch, numpy.array([img.shape[1:] for img in imgs])


def two_examples():
    rng = numpy.random.RandomState(5)
    imgs = [rng.uniform(-1, 1, (3, 64, 96)).astype(numpy.float32),
            rng.uniform(-1, 1, (3, 80, 64)).astype(numpy.float32)]
    bboxes = [numpy.array([[10, 10, 40, 50], [20, 40, 60, 90]], numpy.float32),
              numpy.array([[5, 8, 70, 50]], numpy.float32)]
    labels = [numpy.array([0, 2], numpy.int32), numpy.array([1], numpy.int32)]
    return imgs, bboxes, labels


def exhaustive_chain(model):
    """A chain whose creators keep every anchor and RoI, so that the batch
    and the single images see the same targets whatever the draws."""
    from fasterrcnn.creators import AnchorTargetCreator, ProposalTargetCreator
    return FasterRCNNTrainChain(
        model, anchor_target_creator=AnchorTargetCreator(n_sample=10 ** 6),
        proposal_target_creator=ProposalTargetCreator(n_sample=None,
                                                      pos_ratio=1.0),
        random_state=0)


def gradients(chain):
    return {name: param.grad.copy() for name, param in chain.namedparams()
            if param.grad is not None}


def test_extractor_features_of_a_padded_image_are_its_own():
    model = tiny_model(freeze_conv12=False)
    imgs, _, _ = two_examples()
    batch, sizes = padded(imgs)
    with chainer.no_backprop_mode():
        together = model.extractor(batch, sizes).array
        for i, img in enumerate(imgs):
            alone = model.extractor(img[None]).array[0]
            height, width = alone.shape[1:]
            numpy.testing.assert_allclose(
                together[i, :, :height, :width], alone, rtol=1e-5,
                atol=1e-6)
            assert (together[i, :, height:] == 0).all()
            assert (together[i, :, :, width:] == 0).all()


def test_batch_of_two_is_the_mean_of_the_two_single_images():
    imgs, bboxes, labels = two_examples()
    scales = [1.0, 1.25]
    singles = []
    for i in range(2):
        chain = exhaustive_chain(tiny_model(freeze_conv12=False))
        chain.cleargrads()
        loss = chain(imgs[i][None], bboxes[i][None], labels[i][None],
                     numpy.array([scales[i]]))
        loss.backward()
        singles.append((float(loss.array), gradients(chain)))
    chain = exhaustive_chain(tiny_model(freeze_conv12=False))
    chain.cleargrads()
    batch, sizes = padded(imgs)
    loss = chain(batch, bboxes, labels, numpy.array(scales), sizes)
    loss.backward()
    assert float(loss.array) == pytest.approx(
        (singles[0][0] + singles[1][0]) / 2, rel=1e-5)
    got = gradients(chain)
    assert got.keys() == singles[0][1].keys()
    for name in got:
        numpy.testing.assert_allclose(
            got[name], (singles[0][1][name] + singles[1][1][name]) / 2,
            rtol=1e-4, atol=1e-6, err_msg=name)
