"""Hostile files for the security tests: unpickling any of them runs a shell
command that creates a marker file, as a crafted file from a stranger
would run anything. A loader passes when the marker never appears and its
refusal is one line naming the file."""

import os
import shlex

import numpy


class Payload(object):
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, ('touch ' + shlex.quote(self.marker),)


def hostile_npz(path, marker, arrays=None, key='payload'):
    """Writes ``arrays`` plus an object array under ``key`` (replacing an
    entry of that name) whose unpickling creates ``marker``.

    Returns:
        str: ``path``.
    """
    arrays = dict(arrays or {})
    arrays[key] = numpy.array([Payload(marker)], dtype=object)
    numpy.savez(str(path), **arrays)
    return str(path)


def npz_arrays(path):
    """Every entry of a (trusted, test-made) npz as a dict."""
    with numpy.load(str(path)) as f:
        return {k: f[k] for k in f.files}


def assert_payload_is_live(path, marker, key='payload'):
    """The crafted file really is hostile: a pickle-allowing load of
    ``key`` creates the marker (which is then removed)."""
    with numpy.load(str(path), allow_pickle=True) as f:
        f[key]
    assert os.path.exists(str(marker))
    os.remove(str(marker))


def assert_refused(message, path, marker, key=None):
    """The marker was never made; ``message`` is one line naming ``path``
    (and ``key`` when given)."""
    assert not os.path.exists(str(marker)), 'the file ran code'
    lines = [line for line in str(message).splitlines() if line.strip()]
    assert len(lines) == 1, message
    assert str(path) in lines[0], message
    if key is not None:
        assert repr(key) in lines[0] or key in lines[0], message
