"""Fetching a known artifact (:mod:`fasterrcnn.artifacts.table`) into its
cache: to a temporary name, verified, then moved into place, so that
nothing in a cache looks complete unless it is.

Environment:

* ``FASTERRCNN_MIRROR=BASE``: every file comes from ``BASE/<file name of
  its official URL>`` (an internal mirror; the tests' loopback server);
* ``FASTERRCNN_OFFLINE=1``: never connect; a missing file is one line
  naming it, its official URL and where to put it;
* ``TORCH_HOME``, ``CHAINER_DATASET_ROOT``, ``FASTERRCNN_HOME``: the caches
  (see the table's docstring).

A dropped connection or a transfer cut short is retried with back-off
(``RETRIES`` attempts); a checksum that does not match is not.
"""

import hashlib
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
import zipfile

from fasterrcnn.artifacts.table import (ARTIFACTS, CONFIG_NAMES, GROUPS,
                                        file_name)
from fasterrcnn.artifacts.tar import extract_tar
from fasterrcnn.atomic import atomic_write, fsync_dir
from fasterrcnn.progress import Progress

#: Attempts at a transfer before giving up, and the first wait between two
#: (doubled each time).
RETRIES = 4
BACKOFF_SECONDS = 1.0
_CHUNK = 1 << 20


class FetchError(Exception):
    """A file could not be fetched (the network, offline mode): one line."""


class ChecksumError(ValueError):
    """What was fetched is not the file the table describes: one line."""


def resolve(name):
    """The artifacts a name stands for (a group's several, in order).

    Raises:
        ValueError: an unknown name, with the known ones.
    """
    if name in GROUPS:
        return [ARTIFACTS[n] for n in GROUPS[name]]
    if name in ARTIFACTS:
        return [ARTIFACTS[name]]
    raise ValueError('unknown artifact {!r}: one of {} (fasterrcnn-fetch '
                     '--list)'.format(name, ', '.join(
                         list(ARTIFACTS) + sorted(GROUPS))))


def own_home(environ=None):
    """The project's own cache folder."""
    environ = os.environ if environ is None else environ
    return environ.get('FASTERRCNN_HOME') or os.path.join(
        os.path.expanduser('~'), '.cache', 'fasterrcnn')


def cache_dir(artifact, environ=None):
    """The folder the artifact's file is kept in."""
    environ = os.environ if environ is None else environ
    if artifact.cache == 'torch':
        root = environ.get('TORCH_HOME') or os.path.join(
            os.path.expanduser('~'), '.cache', 'torch')
    elif artifact.cache == 'chainercv':
        root = os.path.join(environ.get('CHAINER_DATASET_ROOT') or
                            os.path.join(os.path.expanduser('~'), '.chainer',
                                         'dataset'), 'pfnet', 'chainercv')
    else:
        root = own_home(environ)
    return os.path.join(root, artifact.subdir)


def fetch(artifact, to=None, progress=True, environ=None, stream=None):
    """The local path of ``artifact``'s file, fetched and verified first
    unless a verified copy is there (then no connection is made).

    Args:
        artifact (Artifact): an entry of the table.
        to (str or None): the folder to keep it in instead of its cache.
        progress (bool): a progress bar (or a closing line) on ``stream``.
        environ (dict or None): the environment (``os.environ``).

    Returns:
        str: the file; for a tar, the folder it was unpacked into.

    Raises:
        FetchError: offline, or the transfer failed ``RETRIES`` times.
        ChecksumError: the file fetched is not the one described.
    """
    environ = os.environ if environ is None else environ
    folder = to or cache_dir(artifact, environ)
    path = os.path.join(folder, file_name(artifact))
    record = _record_path(artifact, path, environ)
    if not _verified_before(path, record):
        if os.path.exists(path) and _check(path, artifact.check) is None:
            _remember(path, record)
        else:
            _download(artifact, folder, path, record, progress, environ,
                      stream)
    if artifact.extract is None:
        return path
    target = os.path.normpath(os.path.join(folder, artifact.extract))
    marker = os.path.join(target, '.{}.extracted'.format(artifact.name))
    if not os.path.isfile(marker):
        extract_tar(path, target)
        with atomic_write(marker, binary=False) as f:
            f.write(file_name(artifact) + '\n')
    return target


def source_url(artifact, environ=None):
    """Where the file is fetched from: its official URL, or the mirror's."""
    environ = os.environ if environ is None else environ
    mirror = environ.get('FASTERRCNN_MIRROR')
    if mirror:
        return mirror.rstrip('/') + '/' + file_name(artifact)
    return artifact.url


def config_entry(key, value, backbone=None):
    """``(artifact or group, inside)`` of the config name ``value`` of
    ``key`` for ``backbone`` (:data:`~fasterrcnn.artifacts.table.
    CONFIG_NAMES`), or None when ``value`` is not a name of ``key``.

    Raises:
        ValueError: ``value`` is a name of ``key``, but not for
            ``backbone``; the message says for which backbones it is.
    """
    entries = CONFIG_NAMES.get(key, {}).get(value) \
        if isinstance(value, str) else None
    if entries is None:
        return None
    entry = entries.get(backbone, entries.get(None))
    if entry is None:
        raise ValueError('{}: {} names weights for model.backbone {} only, '
                         'and model.backbone is {}'.format(
                             key, value, ' or '.join(sorted(entries)),
                             backbone))
    return entry


def config_path(key, value, environ=None, backbone=None):
    """The path a config name stands for (where its file or data set is, or
    will be once fetched), or None when ``value`` is not a name of ``key``.

    Raises:
        ValueError: as :func:`config_entry`.
    """
    entry = config_entry(key, value, backbone)
    if entry is None:
        return None
    return _entry_path(entry, environ)


def _entry_path(entry, environ):
    name, inside = entry
    artifact = resolve(name)[0]
    folder = cache_dir(artifact, environ)
    if artifact.extract is None:
        return os.path.join(folder, file_name(artifact))
    return os.path.normpath(os.path.join(folder, artifact.extract, inside))


def provide(key, path, progress=True, environ=None):
    """Fetch what a config name of ``key`` stands for when ``path`` is its
    path (:func:`config_path`) and it is not there verified; any other path
    is left alone. Returns ``path``."""
    if path is None:
        return path
    for entries in CONFIG_NAMES.get(key, {}).values():
        for entry in entries.values():
            if os.path.normpath(path) == _entry_path(entry, environ):
                for artifact in resolve(entry[0]):
                    fetch(artifact, progress=progress, environ=environ)
                return path
    return path


def by_url(url):
    """The table's artifact published at ``url``, or None."""
    return next((a for a in ARTIFACTS.values() if a.url == url), None)


def _download(artifact, folder, path, record, progress, environ, stream):
    if environ.get('FASTERRCNN_OFFLINE', '') not in ('', '0'):
        raise FetchError(
            '{}: {} is missing and FASTERRCNN_OFFLINE is set: fetch {} and '
            'save it there'.format(artifact.name, path, artifact.url))
    os.makedirs(folder, exist_ok=True)
    url = source_url(artifact, environ)
    partial = os.path.join(folder, '.{}.{}.part'.format(
        file_name(artifact), os.getpid()))
    try:
        for attempt in range(RETRIES):
            try:
                _transfer(url, partial, artifact.name, progress, stream)
                break
            except (urllib.error.URLError, http.client.HTTPException,
                    ConnectionError, socket.timeout, _ShortTransfer) as e:
                if isinstance(e, urllib.error.HTTPError) and e.code < 500:
                    raise FetchError('{}: {} answered {} {}'.format(
                        artifact.name, url, e.code, e.reason)) from None
                if attempt + 1 == RETRIES:
                    raise FetchError('{}: {} failed {} times, the last with '
                                     '{}'.format(artifact.name, url, RETRIES,
                                                 _why(e))) from None
                time.sleep(BACKOFF_SECONDS * 2 ** attempt)
        problem = _check(partial, artifact.check)
        if problem is not None:
            raise ChecksumError('{}: the file fetched from {} {}: nothing '
                                'was kept'.format(artifact.name, url,
                                                  problem))
        with open(partial, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(partial, path)
        fsync_dir(folder)
    finally:
        # A failure, a full disk or Ctrl-C: no partial file stays.
        if os.path.exists(partial):
            os.remove(partial)
    _remember(path, record)


class _ShortTransfer(Exception):
    """The connection ended before the announced size."""


def _why(error):
    return ' '.join(str(getattr(error, 'reason', None) or error or
                        type(error).__name__).split())


def _transfer(url, partial, name, progress, stream):
    with urllib.request.urlopen(url, timeout=60) as response:
        total = response.headers.get('Content-Length')
        total = int(total) if total else None
        done = 0
        with open(partial, 'wb') as out, Progress(
                (total or 0) // _CHUNK + 1, 'fetch ' + name, unit='MiB',
                enabled=progress, stream=stream) as bar:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                bar.update(min(done // _CHUNK, bar.total))
    if total is not None and done != total:
        raise _ShortTransfer('{} of {} bytes'.format(done, total))


def _check(path, check):
    """None when ``path`` is what ``check`` describes, else what is wrong
    (a phrase)."""
    kind, _, expected = check.partition(':')
    if kind in ('sha256', 'md5'):
        digest = _digest(path, kind)
        if not digest.startswith(expected):
            return 'has {} {}, not {}'.format(
                kind.upper(), digest[:len(expected)], expected)
        return None
    if kind == 'npz':
        try:
            with zipfile.ZipFile(path) as archive:
                if archive.testzip() is not None:
                    return 'is a damaged archive'
                if not any(n.endswith('.npy') for n in archive.namelist()):
                    return 'holds no array'
        except (zipfile.BadZipFile, OSError):
            return 'is not a NumPy archive'
        return None
    raise ValueError('unknown check {!r}'.format(check))


def _digest(path, kind):
    h = hashlib.new(kind)
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(_CHUNK), b''):
            h.update(block)
    return h.hexdigest()


def _record_path(artifact, path, environ):
    """Where the project notes that ``path`` was verified (its own cache,
    so that other caches get no files of ours): one record per artifact and
    folder, so that a copy kept elsewhere (``to``) does not overwrite the
    cache's record and make each use verify the whole file again."""
    where = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:12]
    return os.path.join(own_home(environ), 'verified',
                        '{}-{}.json'.format(artifact.name, where))


def _verified_before(path, record):
    """Whether ``path`` is the file verified before: same path, size and
    SHA-256 prefix of its first megabyte (a cheap check of a large file)."""
    if not (os.path.isfile(path) and os.path.isfile(record)):
        return False
    try:
        with open(record) as f:
            seen = json.load(f)
    except (OSError, ValueError):
        return False
    return seen == _fingerprint(path)


def _remember(path, record):
    os.makedirs(os.path.dirname(record), exist_ok=True)
    with atomic_write(record, binary=False) as f:
        json.dump(_fingerprint(path), f)


def _fingerprint(path):
    with open(path, 'rb') as f:
        head = hashlib.sha256(f.read(_CHUNK)).hexdigest()
    return {'path': os.path.abspath(path), 'size': os.path.getsize(path),
            'head_sha256': head}
