"""Reading .npz archives as data only (fasterrcnn/safe_npz.py)."""

import os
import zipfile

import chainer
import numpy
import pytest

from fasterrcnn.safe_npz import (BadFileError, check_npz, load_npz, open_npz,
                                 read_entry)
from tests.support.hostile import (assert_payload_is_live, assert_refused,
                                   hostile_npz, npz_arrays)


def linear(seed=0):
    link = chainer.links.Linear(3, 2)
    rs = numpy.random.RandomState(seed)
    link.W.array[...] = rs.standard_normal(link.W.shape)
    link.b.array[...] = rs.standard_normal(link.b.shape)
    return link


@pytest.fixture
def saved(tmp_path):
    path = str(tmp_path / 'linear.npz')
    chainer.serializers.save_npz(path, linear())
    return path


def test_loads_what_chainer_saved(saved):
    target = linear(seed=1)
    load_npz(saved, target)
    numpy.testing.assert_array_equal(target.W.array, linear().W.array)
    numpy.testing.assert_array_equal(target.b.array, linear().b.array)
    assert set(check_npz(saved)) == {'W', 'b'}


def test_an_object_array_is_refused_before_anything_runs(tmp_path, saved):
    marker = tmp_path / 'ran'
    path = hostile_npz(tmp_path / 'evil.npz', marker, npz_arrays(saved),
                       key='b')
    assert_payload_is_live(path, marker, key='b')
    for load in (check_npz, open_npz,
                 lambda p: load_npz(p, linear())):
        with pytest.raises(BadFileError) as info:
            load(path)
        assert_refused(info.value, path, marker, key='b')
        assert 'pickled Python objects' in str(info.value)


def test_a_missing_entry_names_the_file_and_the_key(tmp_path, saved):
    path = str(tmp_path / 'partial.npz')
    numpy.savez(path, W=npz_arrays(saved)['W'])
    with pytest.raises(BadFileError, match="entry 'b' is missing") as info:
        load_npz(path, linear(), what='model file')
    assert path in str(info.value) and 'model file' in str(info.value)


def test_a_wrong_shape_names_the_file_and_the_key(tmp_path):
    path = str(tmp_path / 'wide.npz')
    numpy.savez(path, W=numpy.zeros((2, 3), numpy.float32),
                b=numpy.zeros(5, numpy.float32))
    with pytest.raises(BadFileError,
                       match=r"entry 'b' has shape \(5,\), expected \(2,\)"):
        load_npz(path, linear())
    # Chainer's own loader would broadcast this one silently.
    numpy.savez(path, W=numpy.zeros((1, 3), numpy.float32),
                b=numpy.zeros(2, numpy.float32))
    with pytest.raises(BadFileError, match="entry 'W' has shape"):
        load_npz(path, linear())


def test_nested_keys_are_named_in_full(tmp_path):
    chain = chainer.Chain()
    with chain.init_scope():
        chain.fc = linear()
    path = str(tmp_path / 'chain.npz')
    numpy.savez(path, **{'fc/W': numpy.zeros((2, 3), numpy.float32)})
    with pytest.raises(BadFileError, match="entry 'fc/b' is missing"):
        load_npz(path, chain)


@pytest.mark.parametrize('content', [b'', b'not a zip at all'])
def test_not_an_archive(tmp_path, content):
    path = str(tmp_path / 'x.npz')
    with open(path, 'wb') as f:
        f.write(content)
    with pytest.raises(BadFileError, match='not an .npz archive') as info:
        open_npz(path)
    assert len(str(info.value).splitlines()) == 1


def test_a_member_that_is_not_an_array_is_refused(tmp_path):
    path = str(tmp_path / 'odd.npz')
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('W.npy', b'#!/bin/sh\necho hi\n')
    with pytest.raises(BadFileError, match="entry 'W' is not a readable"):
        check_npz(path)


def test_a_damaged_member_is_named(tmp_path, saved):
    # Cut the data of 'W' short; its header is intact.
    path = str(tmp_path / 'cut.npz')
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, 'w') as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:-8] if name == 'W.npy' else data)
    with open_npz(path) as npz:
        with pytest.raises(BadFileError, match="entry 'W' is damaged"):
            read_entry(npz, 'W', path)
        with pytest.raises(BadFileError, match="no entry 'V'"):
            read_entry(npz, 'V', path)
    with pytest.raises(BadFileError, match="'W' cannot be loaded"):
        load_npz(path, linear())


def test_a_missing_file():
    with pytest.raises(FileNotFoundError, match='no-such.npz'):
        open_npz(os.path.join('nowhere', 'no-such.npz'))
