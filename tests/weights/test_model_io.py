"""model.npz with its architecture (fasterrcnn/weights/model_io.py)."""

import os

import chainer
import numpy
import pytest

from fasterrcnn.safe_npz import BadFileError
from fasterrcnn.weights.model_io import load_model, save_model
from tests.support.dummy_model import tiny_model
from tests.support.hostile import (assert_payload_is_live, assert_refused,
                                   hostile_npz, npz_arrays)


def test_round_trip_rebuilds_the_same_model(tmp_path):
    model = tiny_model(2, anchor_scales=(1, 2), max_size=80,
                       normalize='caffe')
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


def tiny():
    return tiny_model(2, anchor_scales=(1, 2), max_size=80)


@pytest.mark.parametrize('key', ['fasterrcnn_meta', 'head/score/W'])
def test_a_model_file_that_would_run_code_is_refused(tmp_path, key):
    path = os.path.join(str(tmp_path), 'model.npz')
    save_model(tiny(), path, ['cat', 'dog'])
    marker = tmp_path / 'ran'
    evil = hostile_npz(tmp_path / 'evil.npz', marker, npz_arrays(path),
                       key=key)
    assert_payload_is_live(evil, marker, key=key)
    with pytest.raises(BadFileError) as info:
        load_model(evil)
    assert_refused(info.value, evil, marker, key=key)


@pytest.mark.parametrize('meta, message', [
    ('not json', 'not the JSON object'),
    ('[1, 2]', 'not the JSON object'),
    ('{"init_args": {"n_fg_class": 2, "bogus": 1}}', 'no valid model'),
    ('{"init_args": {"n_fg_class": 2}, "label_names": [1]}',
     'list of strings'),
])
def test_a_bad_meta_entry_is_one_line(tmp_path, meta, message):
    path = os.path.join(str(tmp_path), 'model.npz')
    save_model(tiny(), path, ['cat', 'dog'])
    arrays = npz_arrays(path)
    arrays['fasterrcnn_meta'] = numpy.array(meta)
    numpy.savez(path, **arrays)
    with pytest.raises(BadFileError, match=message) as info:
        load_model(path)
    assert len(str(info.value).splitlines()) == 1


def test_weights_of_another_architecture_are_named(tmp_path):
    path = os.path.join(str(tmp_path), 'model.npz')
    save_model(tiny(), path)
    arrays = npz_arrays(path)
    arrays['head/score/W'] = arrays['head/score/W'][:2]
    numpy.savez(path, **arrays)
    with pytest.raises(BadFileError, match="'head/score/W' has shape"):
        load_model(path)
