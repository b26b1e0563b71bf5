"""Reading ``.npz`` archives as untrusted data: nothing in them runs.

Snapshots, model files and weights travel between people (shared drives,
issue attachments), so every archive the project reads is treated as data
from a stranger. ``numpy.load(..., allow_pickle=True)``, which
:func:`chainer.serializers.load_npz` uses, unpickles object arrays, and
unpickling calls whatever callable the file names. Here instead:

- :func:`open_npz` reads the header of every member before any data: each
  must be a ``.npy`` array of a plain dtype (numbers, bools, strings); an
  object array (pickled Python objects) or a member that is not an array at
  all is refused, and the archive is opened with ``allow_pickle=False``.
- :class:`SafeNpzDeserializer` is Chainer's strict ``NpzDeserializer`` over
  such an archive, whose errors (a missing entry, a wrong shape or type, a
  damaged member) name the file and the entry.
- :func:`load_npz` puts both together in place of
  :func:`chainer.serializers.load_npz`.

Every refusal is a :class:`BadFileError`, a ``ValueError`` whose message is
one line: the file, the entry where there is one, what is wrong and, where
it helps, what to do.
"""

import os
import zipfile
import zlib

import numpy
from chainer.serializers import NpzDeserializer

from fasterrcnn.errors import BadFileError  # noqa: F401 (its home before)

# numpy's own bound for a .npy header (numpy.lib.format), kept explicit so
# that a crafted header cannot make the header parser work on megabytes.
_MAX_HEADER_SIZE = 10000
_NPY_SUFFIX = '.npy'


class DamagedFileError(BadFileError):
    """The file is not a complete, readable archive (truncated or
    corrupted, as a crash while it was copied can leave it)."""


def _entry_name(member):
    """The key under which ``numpy.load`` shows a zip member."""
    if member.endswith(_NPY_SUFFIX):
        return member[:-len(_NPY_SUFFIX)]
    return member


def _read_header(fp):
    """``(shape, dtype)`` of the ``.npy`` stream ``fp`` from its header
    alone (the header is a Python literal parsed without evaluation)."""
    version = numpy.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, _, dtype = numpy.lib.format.read_array_header_1_0(
            fp, max_header_size=_MAX_HEADER_SIZE)
    elif version in ((2, 0), (3, 0)):
        # 3.0 differs from 2.0 only in allowing utf-8 field names, which
        # the project never writes; 2.0's reader refuses those cleanly.
        shape, _, dtype = numpy.lib.format.read_array_header_2_0(
            fp, max_header_size=_MAX_HEADER_SIZE)
    else:
        raise ValueError('unknown .npy format version {}'.format(version))
    return shape, dtype


def check_npz(path):
    """Refuses an archive that holds anything but plain arrays.

    Reads the zip directory and the header of each member, not the data.

    Args:
        path (str): the ``.npz`` file.

    Returns:
        dict: ``{entry: (shape, dtype)}`` for every member.

    Raises:
        FileNotFoundError: no such file.
        BadFileError: not a zip archive, a member that is not a ``.npy``
            array, or an array of Python objects.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError('{}: no such file'.format(path))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DamagedFileError('{}: not an .npz archive ({})'.format(
            path, e))
    entries = {}
    with archive:
        for member in archive.namelist():
            key = _entry_name(member)
            try:
                with archive.open(member) as fp:
                    shape, dtype = _read_header(fp)
            except (ValueError, EOFError, OSError, zipfile.BadZipFile,
                    zlib.error, SyntaxError) as e:
                raise DamagedFileError(
                    '{}: entry {!r} is not a readable NumPy array ({}); '
                    'refused'.format(path, key, str(e).splitlines()[0]))
            if dtype.hasobject:
                raise BadFileError(
                    '{}: entry {!r} holds pickled Python objects; refused: '
                    'files are read as data only, never unpickled'.format(
                        path, key))
            entries[key] = (shape, dtype)
    return entries


def open_npz(path):
    """Opens an ``.npz`` as data only, after :func:`check_npz`.

    Args:
        path (str): the file.

    Returns:
        numpy.lib.npyio.NpzFile: opened with ``allow_pickle=False``; use it
        as a context manager.

    Raises:
        FileNotFoundError, BadFileError: as :func:`check_npz`.
    """
    check_npz(path)
    return numpy.load(os.fspath(path), allow_pickle=False)


def read_entry(npz, key, path):
    """``npz[key]``, with a damaged member refused by a one-line
    :class:`BadFileError` naming ``path`` and ``key``.

    Args:
        npz (numpy.lib.npyio.NpzFile): from :func:`open_npz`.
        key (str): the entry.
        path (str): the file's name for messages.
    """
    if key not in npz.files:
        raise BadFileError('{}: no entry {!r}'.format(path, key))
    try:
        return npz[key]
    except (ValueError, EOFError, OSError, zipfile.BadZipFile,
            zlib.error) as e:
        raise DamagedFileError('{}: entry {!r} is damaged ({})'.format(
            path, key, str(e).splitlines()[0]))


class SafeNpzDeserializer(NpzDeserializer):
    """Chainer's strict ``NpzDeserializer`` with errors that name the file.

    Unlike Chainer's, an array entry must have exactly the target's shape
    (``numpy.copyto`` would broadcast a ``(1, C)`` entry into ``(R, C)``).

    Args:
        npz (numpy.lib.npyio.NpzFile): an archive from :func:`open_npz`.
        name (str): the file, for messages.
        what (str): what the file should be (``'trainer snapshot'``,
            ``'model file'``), for messages.
        path (str): the prefix of the entries to read (``''`` for all).
        entries (dict or None): :func:`check_npz` of the file, if already
            made (else it is made here).
    """

    def __init__(self, npz, name, what, path='', entries=None):
        super(SafeNpzDeserializer, self).__init__(npz, path=path, strict=True)
        self.name = name
        self.what = what
        self.entries = check_npz(name) if entries is None else entries

    def __getitem__(self, key):
        return SafeNpzDeserializer(self.npz, self.name, self.what,
                                   self.path + key.strip('/') + '/',
                                   self.entries)

    def _refuse(self, key, reason):
        return BadFileError(
            '{}: entry {!r} {}: not a {} for this model and configuration'
            .format(self.name, key, reason, self.what))

    def __call__(self, key, value):
        full = self.path + key.lstrip('/')
        if full not in self.entries:
            raise self._refuse(full, 'is missing')
        shape = self.entries[full][0]
        if hasattr(value, 'shape') and tuple(value.shape) != shape:
            raise self._refuse(full, 'has shape {}, expected {}'.format(
                shape, tuple(value.shape)))
        try:
            return super(SafeNpzDeserializer, self).__call__(key, value)
        except (ValueError, TypeError, EOFError, OSError, zipfile.BadZipFile,
                zlib.error) as e:
            raise DamagedFileError(
                '{}: entry {!r} cannot be loaded ({}): a damaged file?'
                .format(self.name, full, str(e).splitlines()[0]))


def load_npz(path, target, what='file'):
    """Loads ``target`` (a Link, an Optimizer, a Trainer...) from ``path``
    without unpickling anything: the safe twin of
    :func:`chainer.serializers.load_npz` (strict).

    Args:
        path (str): the ``.npz`` file.
        target: anything with a ``serialize`` method.
        what (str): what the file should be, for messages.

    Raises:
        FileNotFoundError, BadFileError: the message names the file and,
            where there is one, the entry.
    """
    name = os.fspath(path)
    entries = check_npz(name)
    with numpy.load(name, allow_pickle=False) as npz:
        SafeNpzDeserializer(npz, name, what, entries=entries).load(target)


def read_optional(serializer, key):
    """When loading: the array stored under ``key``, or None when the
    snapshot has no such entry (one written before the entry existed).

    Chainer's deserializers say so with a KeyError, the project's safe one
    (:class:`SafeNpzDeserializer`) with a
    :class:`BadFileError`; a damaged file is still an
    error (the resume then tries the previous snapshot). Passing None as the
    value reads the entry whatever its shape, so a refusal here can only be
    the missing entry.
    """
    try:
        return serializer(key, None)
    except DamagedFileError:
        raise
    except (KeyError, BadFileError):
        return None
