"""Reading PyTorch ``.pth`` files without torch, as untrusted data.

A ``.pth`` is a pickle whose tensors point into raw storages kept beside
it. Two layouts exist:

- the zip format (``torch.save`` since PyTorch 1.6): a zip whose members
  share one folder name, ``<prefix>/data.pkl`` (the pickle),
  ``<prefix>/data/<key>`` (each storage's raw bytes) and an optional
  ``<prefix>/byteorder`` (``little`` or ``big``; little when absent). A
  storage's persistent id in the pickle is ``('storage', storage_type, key,
  location, numel)``.
- the legacy format (before 1.6, and ``_use_new_zipfile_serialization=
  False``; torchvision's ``vgg16-397923af.pth`` and the caffe VGG16
  ``vgg16-00b39a1b.pth``): pickles one after the other in one file: the
  magic number ``0x1950a86a20f9469cfc6c``, the protocol version 1001, a
  dict of the writer's type sizes, the object itself (a storage's
  persistent id is ``('storage', storage_type, key, location, numel,
  view_metadata)``, ``view_metadata`` ``None`` or ``(view_key, offset,
  numel)`` in elements of the root storage), the list of storage keys;
  then, for each key in that order, its element count (8 bytes, little
  endian) and its raw bytes (little endian).

Unpickling calls whatever callable a pickle names, so :func:`read_pth`
never lets a pickle name anything real: its unpickler maps an explicit
allow-list of ``(module, name)`` to builders of this module (tensors from
their storage, ``OrderedDict``, NumPy scalars and their dtype, the bytes of
protocol 2), imports nothing and refuses every other name before anything
is called. Tensors come back as NumPy arrays, so torch is not needed to
read a ``.pth``.
"""

import collections
import os
import pickle
import struct
import zipfile

import numpy

from fasterrcnn.errors import BadFileError

_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
_PROTOCOL_VERSION = 1001
_ZIP_MAGIC = b'PK\x03\x04'
_COUNT = struct.Struct('<q')  # a legacy storage's element count

#: torch's storage types (``torch.FloatStorage``, or ``torch.cuda.*`` in
#: checkpoints older torch wrote from a GPU) -> little-endian dtypes.
_STORAGE_DTYPES = {'FloatStorage': '<f4', 'DoubleStorage': '<f8',
                   'HalfStorage': '<f2', 'LongStorage': '<i8',
                   'IntStorage': '<i4', 'ShortStorage': '<i2',
                   'CharStorage': 'i1', 'ByteStorage': 'u1',
                   'BoolStorage': '?'}
_STORAGE_MODULES = ('torch', 'torch.cuda')
_READ_TYPES = ('only Float, Double, Half, Long, Int, Short, Char, Byte and '
               'Bool tensors are read')

#: The NumPy scalar dtypes a checkpoint may hold (numpy's pickled codes).
_SCALAR_CODES = ('b1', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8',
                 'f2', 'f4', 'f8')

_CHUNK = 1 << 24  # bytes per read of a zip member


def _printable(text, limit=120):
    """``text`` safe to put in a one-line message (it comes from the
    file)."""
    text = str(text)
    if not text.isprintable():
        text = ascii(text)
    return text if len(text) <= limit else text[:limit] + '...'


class _StorageType(object):
    """What a pickle's ``torch.FloatStorage`` and the like stand for here:
    the dtype of a storage's elements."""

    def __init__(self, name, dtype):
        self.name = name
        self.dtype = numpy.dtype(dtype)


_STORAGE_TYPES = {name: _StorageType(name, dtype)
                  for name, dtype in _STORAGE_DTYPES.items()}


class _Storage(object):
    """A storage: ``array`` (1-D, its dtype, ``numel`` elements) that
    tensors view; a legacy file fills it after the pickle is read."""

    def __init__(self, array):
        self.array = array

    def __setstate__(self, state):
        # a pickle's BUILD on a storage would otherwise replace its array
        raise ValueError('a storage with a state')


class _DtypeSpec(object):
    """What a pickle's ``numpy.dtype(code, align, copy)`` builds: the
    code and, after its ``BUILD``, the byte order. It stands in for the
    dtype so that numpy's own ``__setstate__`` never sees the file's
    state."""

    def __init__(self, code):
        self.code = code
        self.byteorder = '='

    def __setstate__(self, state):
        # numpy's dtype state: (version, byteorder, subarray, names, fields,
        # elsize, alignment, flags); a plain scalar has no subarray/fields.
        if not (isinstance(state, tuple) and len(state) >= 5
                and state[1] in ('<', '>', '|', '=')
                and state[2:5] == (None, None, None)):
            raise ValueError('a NumPy dtype of an unexpected form')
        self.byteorder = state[1]

    def numpy_dtype(self):
        dtype = numpy.dtype(self.code)
        return dtype.newbyteorder(self.byteorder) \
            if self.byteorder in '<>' else dtype


def _numpy_dtype(code, align=False, copy=True):
    if code not in _SCALAR_CODES:
        raise ValueError('a NumPy dtype {!r} other than a number or bool'
                         .format(_printable(code)))
    return _DtypeSpec(code)


def _numpy_scalar(dtype, data):
    """numpy's ``multiarray.scalar(dtype, bytes)``: a NumPy scalar."""
    if not isinstance(dtype, _DtypeSpec) or not isinstance(data, bytes):
        raise ValueError('a NumPy scalar of an unexpected form')
    dtype = dtype.numpy_dtype()
    if len(data) != dtype.itemsize:
        raise ValueError('a NumPy scalar of {} bytes for {}'.format(
            len(data), dtype))
    return numpy.frombuffer(data, dtype)[0]


def _ints(values, what):
    if not isinstance(values, (tuple, list)) or not all(
            type(v) is int and v >= 0 for v in values):
        raise ValueError('a tensor {} of an unexpected form: {}'.format(
            what, _printable(repr(values))))
    return tuple(values)


class _Unpickler(pickle.Unpickler):
    """The only unpickler of this module: every global goes through the
    reader's allow-list, every persistent id through its storages."""

    def __init__(self, file, reader, storages):
        # utf-8, as torch.load: the strings of Python 2 pickles are text.
        super(_Unpickler, self).__init__(file, encoding='utf-8')
        self._reader = reader
        self._storages = storages

    def find_class(self, module, name):
        return self._reader.find_class(module, name)

    def persistent_load(self, saved_id):
        if not self._storages:
            raise ValueError('a storage where none belongs')
        return self._reader.storage(saved_id)


class _Reader(object):
    """One reading of ``path``: its storages by key, and the non-contiguous
    tensors to copy out of them once they are filled."""

    def __init__(self, path, size):
        self.path = path
        self.size = size  # of the file, bounding what it can announce
        self.storages = {}  # key -> (_StorageType, numel, _Storage)
        self.announced = 0  # bytes of a legacy file's storages so far
        self.copies = []  # (out, strided view of a storage)
        self.copied = 0  # bytes of those outs
        self.encoded = 0  # bytes built by _codecs.encode
        self.items = 0  # entries of the OrderedDicts built from a list
        self.zip = False
        self.big_endian = False  # torch writes a legacy storage little
        self.globals = {
            ('collections', 'OrderedDict'): self.ordered_dict,
            ('torch._utils', '_rebuild_tensor'): self.rebuild_tensor,
            ('torch._utils', '_rebuild_tensor_v2'): self.rebuild_tensor_v2,
            ('torch._utils', '_rebuild_parameter'): self.rebuild_parameter,
            ('numpy.core.multiarray', 'scalar'): _numpy_scalar,  # NumPy 1
            ('numpy._core.multiarray', 'scalar'): _numpy_scalar,  # NumPy 2
            ('numpy', 'dtype'): _numpy_dtype,
            ('_codecs', 'encode'): self.latin1_bytes,
        }

    def error(self, what):
        return BadFileError('{}: {}'.format(self.path, what))

    def unreadable(self, why):
        return self.error('not a readable PyTorch file ({})'.format(why))

    def unpickle(self, file, storages=False):
        return _Unpickler(file, self, storages).load()

    def find_class(self, module, name):
        if (module, name) in self.globals:
            return self.globals[module, name]
        if module in _STORAGE_MODULES and name in _STORAGE_TYPES:
            return _STORAGE_TYPES[name]
        if (module in _STORAGE_MODULES and name.endswith('Storage')) or (
                module, name) == ('torch._utils', '_rebuild_tensor_v3'):
            # torch's own names: another tensor type (BFloat16, complex,
            # quantized; v3 holds uint16/32/64 and float8), not a call.
            raise self.error('holds a tensor of type {}.{}, which is not '
                             'read; {}'.format(_printable(module),
                                               _printable(name), _READ_TYPES))
        raise self.error(
            'refused: it asks to import {} to load, which could run code;'
            ' only tensors, plain containers and NumPy scalars are read'
            .format(_printable('{}.{}'.format(module, name))))

    def storage(self, saved_id):
        """The :class:`_Storage` of a persistent id (see the module's
        docstring); a zip file's is read here, a legacy file's later."""
        if not isinstance(saved_id, tuple) or len(saved_id) != (
                5 if self.zip else 6) or saved_id[0] != 'storage':
            raise ValueError('a persistent id of an unexpected form: {}'
                             .format(_printable(repr(saved_id))))
        kind, key, _, numel = saved_id[1:5]
        if not isinstance(kind, _StorageType) or not isinstance(
                key, str) or type(numel) is not int or numel < 0:
            raise ValueError('a storage of an unexpected form: {}'.format(
                _printable(repr(saved_id))))
        if key in self.storages:
            if self.storages[key][:2] != (kind, numel):
                raise self.error('storage {!r} is announced twice, with '
                                 'another type or size'.format(
                                     _printable(key)))
            storage = self.storages[key][2]
        else:
            storage = self.new_storage(key, kind.dtype, numel)
            self.storages[key] = (kind, numel, storage)
        view = None if self.zip else saved_id[5]
        if view is None:
            return storage
        # A legacy view of a storage: (view_key, offset, numel) in elements.
        if not isinstance(view, tuple) or len(view) != 3 or not all(
                type(v) is int and v >= 0 for v in view[1:]) or \
                view[1] + view[2] > numel:
            raise self.error('storage {!r} has a view outside it: {}'.format(
                _printable(key), _printable(repr(view))))
        return _Storage(storage.array[view[1]:view[1] + view[2]])

    def new_storage(self, key, dtype, numel):
        if not self.zip:
            # a zip member's size is checked before it is read; a legacy
            # storage follows the pickle, so its bytes are bounded here
            # before they are allocated
            self.announced += numel * dtype.itemsize
            if self.announced > self.size:
                raise self.unreadable(
                    'storage {!r} is cut short: {} bytes announced, more '
                    'than the file holds'.format(_printable(key),
                                                 numel * dtype.itemsize))
        storage = _Storage(numpy.empty(numel, dtype))
        if self.zip:
            self.read_member('data/' + key, storage.array)
            self.finish_storage(storage)
        return storage

    def finish_storage(self, storage):
        if storage.array.dtype == numpy.bool_:
            # a byte other than 0 or 1 would be a bool numpy compares
            # wrongly; torch reads any nonzero byte as True
            numpy.not_equal(storage.array.view(numpy.uint8), 0,
                            out=storage.array)
        elif self.big_endian:
            storage.array.byteswap(inplace=True)

    def ordered_dict(self, items=()):
        """``collections.OrderedDict``: empty, then filled by the pickle
        (Python 3), or from a list of ``[key, value]`` (Python 2)."""
        if not isinstance(items, (list, tuple)) or not all(
                isinstance(i, (list, tuple)) and len(i) == 2 for i in items):
            raise ValueError('an OrderedDict of an unexpected form')
        # each call copies: a memoized list of items given again and again
        # could otherwise fill the memory from a small file
        self.items += len(items)
        if self.items > self.size:
            raise ValueError('more entries than the file holds')
        return collections.OrderedDict(items)

    def latin1_bytes(self, text, encoding):
        """``_codecs.encode(text, 'latin1')``: how pickle protocol 2 writes
        ``bytes`` (a NumPy scalar's data)."""
        if not isinstance(text, str) or encoding not in ('latin1',
                                                         'latin-1'):
            raise ValueError('bytes of an unexpected form')
        # each call copies: a memoized string encoded again and again
        # could otherwise fill the memory from a small file
        self.encoded += len(text)
        if self.encoded > self.size:
            raise ValueError('more bytes than the file holds')
        return text.encode('latin-1')

    def rebuild_tensor(self, storage, storage_offset, size, stride):
        """A tensor as a C-order NumPy array of its storage's dtype, shape
        ``size``: a view of the storage where the tensor is contiguous
        there, else a copy made when the storages are filled."""
        if not isinstance(storage, _Storage):
            raise ValueError('a tensor without a storage')
        size, stride = _ints(size, 'size'), _ints(stride, 'stride')
        offset, = _ints((storage_offset,), 'offset')
        array = storage.array
        if len(size) != len(stride):
            raise ValueError('a tensor of size {} and stride {}'.format(
                size, stride))
        numel = 1
        for n in size:
            numel *= n
        if numel == 0:
            return numpy.empty(size, array.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= array.size:
            raise self.unreadable(
                'a tensor of size {} reaches past the end of its storage '
                '({} elements)'.format(size, array.size))
        view = numpy.lib.stride_tricks.as_strided(
            array[offset:], shape=size,
            strides=[s * array.itemsize for s in stride])
        if view.flags.c_contiguous:
            # the same elements in order: a view with C strides
            return array[offset:offset + numel].reshape(size)
        # Copies are bounded by the file's size: a crafted file could
        # otherwise expand one element (stride 0) into terabytes.
        self.copied += numel * array.itemsize
        if self.copied > 2 * self.size:
            raise self.error('its non-contiguous tensors would take more '
                             'than twice its size; they are not read')
        out = numpy.empty(size, array.dtype)
        self.copies.append((out, view))
        return out

    def rebuild_tensor_v2(self, storage, storage_offset, size, stride,
                          requires_grad, backward_hooks, metadata=None):
        if metadata:
            # torch's conj or neg bit: the values are not the storage's
            raise self.error('holds a tensor with flags {}, which is not '
                             'read'.format(_printable(repr(metadata))))
        return self.rebuild_tensor(storage, storage_offset, size, stride)

    def rebuild_parameter(self, data, requires_grad, backward_hooks):
        if not isinstance(data, numpy.ndarray):
            raise ValueError('a parameter without a tensor')
        return data

    def finish(self, result):
        for out, view in self.copies:
            numpy.copyto(out, view)
        return result

    # -- the zip format

    def read_zip(self, f):
        self.zip = True
        with zipfile.ZipFile(f) as self.archive:
            names = self.archive.namelist()
            if not names or '/' not in names[0]:
                raise self.unreadable('a zip without data.pkl')
            # torch's rule: the first member's folder is every record's
            self.prefix = names[0].split('/', 1)[0] + '/'
            if self.prefix + 'byteorder' in names:
                with self.open_member('byteorder') as member:
                    order = member.read(8)
                if order not in (b'little', b'big'):
                    raise self.unreadable('byte order {}'.format(
                        _printable(repr(order))))
                self.big_endian = order == b'big'
            with self.open_member('data.pkl') as pkl:
                return self.finish(self.unpickle(pkl, storages=True))

    def open_member(self, name, nbytes=None):
        """The open zip member ``<prefix>/<name>``, whose size is checked
        against ``nbytes`` and the file's before anything is read."""
        name = self.prefix + name
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise self.unreadable('no {} in the zip'.format(
                _printable(name))) from None
        if info.compress_type != zipfile.ZIP_STORED:
            # torch stores every record; a compressed one could expand to
            # any size
            raise self.unreadable('{} is compressed (method {}), which '
                                  'torch never writes'.format(
                                      _printable(name), info.compress_type))
        if info.file_size != info.compress_size or \
                info.compress_size > self.size:
            raise self.unreadable('{} announces more bytes than the file '
                                  'holds'.format(_printable(name)))
        if nbytes is not None and info.file_size != nbytes:
            raise self.unreadable('{} holds {} bytes, {} announced'.format(
                _printable(name), info.file_size, nbytes))
        return self.archive.open(info)

    def read_member(self, name, array):
        """Fills ``array`` with the bytes of member ``name``, in chunks
        (zipfile checks its CRC when the last is read)."""
        buf = memoryview(array.view(numpy.uint8))
        with self.open_member(name, array.nbytes) as member:
            done = 0
            while done < len(buf):
                n = member.readinto(buf[done:done + _CHUNK])
                if not n:
                    raise self.unreadable('{}{} is cut short'.format(
                        self.prefix, _printable(name)))
                done += n
            member.read(1)  # reaches the member's end: its CRC check

    # -- the legacy format

    def read_legacy(self, f):
        try:
            magic = self.unpickle(f)
        except BadFileError:
            raise
        except Exception:  # noqa: B902  told apart below
            magic = None
        if type(magic) is not int or magic != _MAGIC_NUMBER:
            f.seek(257)
            if f.read(5) == b'ustar':
                raise self.unreadable("PyTorch's oldest format (a tar) is "
                                      'not read')
            raise self.unreadable('neither a zip nor a legacy .pth: no '
                                  'magic number')
        version = self.unpickle(f)
        if version != _PROTOCOL_VERSION:
            raise self.unreadable('legacy protocol version {}'.format(
                _printable(repr(version))))
        self.unpickle(f)  # the writer's sys_info: nothing we need
        result = self.unpickle(f, storages=True)
        keys = self.unpickle(f)
        if not isinstance(keys, list) or sorted(keys, key=repr) != sorted(
                self.storages, key=repr):
            raise self.unreadable('its list of storages is not the storages'
                                  ' its tensors use')
        for key in keys:
            self.read_legacy_storage(f, key)
        return self.finish(result)

    def read_legacy_storage(self, f, key):
        _, numel, storage = self.storages[key]
        count = f.read(_COUNT.size)
        if len(count) < _COUNT.size:
            raise self.unreadable('storage {!r} is missing'.format(
                _printable(key)))
        count, = _COUNT.unpack(count)
        if count != numel:
            raise self.unreadable('storage {!r} holds {} elements, {} '
                                  'announced'.format(_printable(key), count,
                                                     numel))
        buf = storage.array.view(numpy.uint8)
        got = f.readinto(buf) if buf.size else 0
        if got != buf.size:
            raise self.unreadable('storage {!r} is cut short: {} bytes '
                                  'announced, {} present'.format(
                                      _printable(key), buf.size, got))
        self.finish_storage(storage)


def read_pth(path):
    """Reads a ``.pth`` file (zip or legacy format) as data, without torch.

    Args:
        path (str): the file.

    Returns:
        the unpickled object: every tensor a C-order NumPy array of its
        shape and dtype (float32, float64, float16, int64, int32, int16,
        int8, uint8 or bool; views of one storage share its memory, a
        non-contiguous tensor is copied), dicts, ``OrderedDict``, lists,
        tuples, numbers and strings as they are, NumPy scalars as NumPy
        scalars.

    Raises:
        FileNotFoundError: no such file.
        BadFileError: the file names anything outside the allow-list (it
            could run code), holds a tensor of another type, or is not a
            complete PyTorch file; one line naming it.
    """
    path = os.fspath(path)
    with open(path, 'rb') as f:
        reader = _Reader(path, os.fstat(f.fileno()).st_size)
        try:
            if f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC:
                f.seek(0)
                return reader.read_zip(f)
            f.seek(0)
            return reader.read_legacy(f)
        except BadFileError:
            raise
        except Exception as e:  # noqa: B902  nothing ran: a parse failure
            message = str(e).splitlines()[0] if str(e).strip() else ''
            raise reader.unreadable(_printable(
                message or type(e).__name__, 200)) from None
