"""The convolution link (links/convolution_2d.py): Chainer's link, its
parameters and saved names, computing with the tiled CPU convolution."""

import chainer
import chainer.links as L
import numpy

from fasterrcnn.functions.convolution import Convolution2D as Node
from fasterrcnn.links.convolution_2d import Convolution2D


def test_same_parameters_names_and_results_as_chainers_link(tmp_path):
    ours = Convolution2D(3, 4, 3, 1, 1)
    theirs = L.Convolution2D(3, 4, 3, 1, 1)
    theirs.copyparams(ours)
    assert isinstance(ours, L.Convolution2D)
    assert sorted(n for n, _ in ours.namedparams()) == ['/W', '/b']
    x = numpy.random.RandomState(0).randn(2, 3, 5, 6).astype(numpy.float32)
    y = ours(x)
    assert isinstance(y.creator, Node)
    numpy.testing.assert_allclose(y.array, theirs(x).array, atol=1e-5)
    # a file saved from one loads into the other
    chainer.serializers.save_npz(str(tmp_path / 'c.npz'), ours)
    back = L.Convolution2D(3, 4, 3, 1, 1)
    chainer.serializers.load_npz(str(tmp_path / 'c.npz'), back)
    numpy.testing.assert_array_equal(back.W.array, ours.W.array)


def test_lazy_initialisation_and_fallbacks():
    x = numpy.ones((1, 2, 6, 6), numpy.float32)
    lazy = Convolution2D(None, 3, 3, 1, 1)
    assert isinstance(lazy(x).creator, Node)
    assert lazy.W.shape == (3, 2, 3, 3)
    dilated = Convolution2D(2, 3, 3, 1, 2, dilate=2)
    y = dilated(x)
    assert not isinstance(y.creator, Node)
    ref = L.Convolution2D(2, 3, 3, 1, 2, dilate=2)
    ref.copyparams(dilated)
    numpy.testing.assert_array_equal(y.array, ref(x).array)
