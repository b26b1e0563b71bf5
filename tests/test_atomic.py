"""atomic_write and write_json (fasterrcnn/atomic.py): the file is the old
one or the whole new one, and a writer stopped half way leaves no traceback
behind."""

import errno
import gc
import json
import os
import sys

import numpy
import numpy.lib.format
import pytest

from fasterrcnn.atomic import atomic_write, write_json


def test_complete_or_old(tmp_path):
    path = str(tmp_path / 'f.txt')
    with atomic_write(path, binary=False) as f:
        f.write('old\n')
    with pytest.raises(RuntimeError):
        with atomic_write(path, binary=False) as f:
            f.write('half')
            raise RuntimeError('stopped')
    with open(path) as f:
        assert f.read() == 'old\n'
    assert os.listdir(str(tmp_path)) == ['f.txt']


@pytest.mark.parametrize('error', [
    KeyboardInterrupt(), OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))])
def test_an_archive_stopped_half_way_leaves_no_traceback(
        tmp_path, monkeypatch, error):
    # numpy's savez leaves its ZipFile open when a write fails (a second
    # Ctrl-C, a full disk); closed later by its __del__ on a closed file,
    # it printed "Exception ignored in: ZipFile.__del__ ... seek of closed
    # file" after the command's own one-line message.
    seen = []
    monkeypatch.setattr(sys, 'unraisablehook', seen.append)
    write = numpy.lib.format.write_array
    calls = []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            # A new instance: one kept by the test would keep the frames.
            raise type(error)(*error.args)
        return write(*a, **k)
    monkeypatch.setattr(numpy.lib.format, 'write_array', failing)
    path = str(tmp_path / 'snapshot.npz')

    def save():
        with atomic_write(path) as f:
            numpy.savez_compressed(f, a=numpy.zeros(3), b=numpy.ones(3),
                                   c=numpy.ones(4), d=numpy.ones(2))
    raised = False
    try:
        save()
    except type(error):
        raised = True   # (and the traceback freed here, as a command does)
    assert raised
    gc.collect()
    assert [repr(u.exc_value) for u in seen] == []
    assert os.listdir(str(tmp_path)) == []


def test_write_json_is_indented_and_ends_with_a_newline(tmp_path):
    path = str(tmp_path / 'r.json')
    data = {'map': 0.5, 'ap': {'cat': None, 'dog': 1.0}, 'label_names':
            ['cat', 'dog'], 'n': 3, 'ok': True}
    write_json(path, data)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    assert json.loads(text) == data
    assert text.endswith('}\n') and '\n  "map": 0.5,' in text
    assert os.listdir(str(tmp_path)) == ['r.json']


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_write_json_refuses_what_json_has_not_and_keeps_the_old(tmp_path,
                                                                value):
    path = str(tmp_path / 'r.json')
    write_json(path, {'map': 0.5})
    with pytest.raises(ValueError):
        write_json(path, {'map': value})
    with open(path, encoding='utf-8') as f:
        assert json.load(f) == {'map': 0.5}
    assert os.listdir(str(tmp_path)) == ['r.json']
