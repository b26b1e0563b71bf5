"""The RPN, the train chain and predict on each device (the ``device``
fixture), as chainercv runs its link tests: outputs on the model's device,
equal to the NumPy run's to float rounding."""

import chainer
import numpy

from fasterrcnn.links import FasterRCNNTrainChain
from tests.support.dummy_model import random_image, tiny_model


def host(array):
    return chainer.get_device('@numpy').send(array)


def images(n=2, size=(64, 80)):
    rng = numpy.random.RandomState(0)
    return [random_image(rng, *size) for _ in range(n)]


def test_rpn(device):
    model = tiny_model()
    x = numpy.random.RandomState(1).normal(
        0, 1, (2, 8, 4, 5)).astype(numpy.float32)
    with chainer.using_config('train', False):
        ref = model.rpn(x, (64, 80), 1.)
        model.to_device(device)
        got = model.rpn(device.send(x), (64, 80), 1.)
    assert isinstance(got[2], device.xp.ndarray)
    assert len(ref[2]) > 0
    numpy.testing.assert_allclose(host(got[0].array), ref[0].array,
                                  rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(host(got[2]), ref[2], rtol=1e-4,
                                  atol=1e-3)
    numpy.testing.assert_array_equal(host(got[3]), ref[3])


def test_train_chain_padded_batch(device):
    imgs = numpy.zeros((2, 3, 64, 80), numpy.float32)
    imgs[0] = images(1)[0]
    imgs[1, :, :48, :64] = images(1, (48, 64))[0]
    sizes = numpy.array([[64, 80], [48, 64]])
    bbox = numpy.array([[[8, 8, 40, 50], [20, 30, 44, 60]]] * 2,
                       numpy.float32)
    label = numpy.array([[0, 2]] * 2, numpy.int32)
    scales = numpy.array([1., 1.])

    def loss(dev):
        chain = FasterRCNNTrainChain(tiny_model(), random_state=0)
        chain.to_device(dev)
        value = chain(dev.send(imgs), dev.send(bbox), dev.send(label),
                      scales, sizes)
        return chain, value

    ref_chain, ref = loss(chainer.get_device('@numpy'))
    chain, got = loss(device)
    assert isinstance(got.array, device.xp.ndarray)
    assert numpy.isfinite(float(ref.array)) and float(ref.array) > 0
    numpy.testing.assert_allclose(float(got.array), float(ref.array),
                                  rtol=1e-4)
    got.backward()
    grad = chain.faster_rcnn.head.score.W.grad
    assert isinstance(grad, device.xp.ndarray) and host(grad).any()


def test_predict_a_batch(device):
    model = tiny_model()
    model.use_preset('evaluate')
    imgs = images(2) + images(1, (40, 100))
    ref = model.predict(imgs)
    model.to_device(device)
    got = model.predict(imgs)
    assert sum(len(b) for b in ref[0]) > 0
    for k in range(3):
        for g, r in zip(got[k], ref[k]):
            assert isinstance(g, numpy.ndarray)  # results come to the host
            if k == 1:
                numpy.testing.assert_array_equal(g, r)
            else:
                numpy.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-3)
