"""model.npz with its architecture (fasterrcnn/links/model_io.py)."""

import os

import numpy
import pytest

import chainer

from fasterrcnn.links import FasterRCNNVGG16
from fasterrcnn.links.model_io import load_model, save_model


def test_round_trip_rebuilds_the_same_model(tmp_path):
    model = FasterRCNNVGG16(2, extractor_channels=(4, 4, 8, 8, 8),
                            fc_size=16, anchor_scales=(1, 2), min_size=64,
                            max_size=80, normalize='caffe')
    path = os.path.join(str(tmp_path), 'model.npz')
    save_model(model, path, ['cat', 'dog'])
    assert os.listdir(str(tmp_path)) == ['model.npz']   # no temporary left
    again, names = load_model(path)
    assert names == ['cat', 'dog']
    assert again.init_args == model.init_args
    assert (again.min_size, again.normalize) == (64, 'caffe')
    assert len(again.rpn.anchor_base) == 6
    for (name, a), (_, b) in zip(sorted(model.namedparams()),
                                 sorted(again.namedparams())):
        numpy.testing.assert_array_equal(a.array, b.array, err_msg=name)


def test_a_snapshot_or_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        load_model(os.path.join(str(tmp_path), 'none.npz'))
    path = os.path.join(str(tmp_path), 'snapshot_iter_2.npz')
    chainer.serializers.save_npz(path, chainer.links.Linear(2, 3))
    with pytest.raises(ValueError, match='not a model'):
        load_model(path)
