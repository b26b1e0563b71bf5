"""Reading .pth files without torch, as untrusted data
(fasterrcnn/pth_format.py).

Most tests need no torch: the committed fixtures of tests/data/pth/ (made
by its make_fixtures.py with torch) and files assembled here from pickle
opcodes. The tests that save with torch skip where it is not installed.
"""

import collections
import os
import pickle
import struct
import sys
import zipfile

import numpy
import pytest

from fasterrcnn.pth_format import read_pth
from fasterrcnn.safe_npz import BadFileError
from fasterrcnn.weights.torch_checkpoint import (load_torch_checkpoint,
                                                 load_torch_file)
from tests.support.hostile import Payload, assert_refused

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data',
                        'pth')
FORMATS = ('zip', 'legacy')
MAGIC_NUMBER = 0x1950a86a20f9469cfc6c


def fixture(fmt):
    return os.path.join(FIXTURES, 'trainer_{}.pth'.format(fmt))


def fixture_bytes(fmt):
    with open(fixture(fmt), 'rb') as f:
        return f.read()


def expected_model():
    """What make_fixtures.py's ``model`` holds, computed with NumPy."""
    base = numpy.arange(12, dtype=numpy.float32).reshape(3, 4)
    return collections.OrderedDict([
        ('weight', numpy.arange(6, dtype=numpy.float32).reshape(2, 3)),
        ('bias', numpy.array([0.5, -0.5], numpy.float32)),
        ('base', base),
        ('transposed', base.T),
        ('slice', base.ravel()[5:9]),
        ('every_other', base[1:, ::2]),
        ('f64', numpy.arange(6, dtype=numpy.float64).reshape(2, 3) / 8),
        ('f16', numpy.array([0.5, -2.0, 65504.0], numpy.float16)),
        ('i64', numpy.arange(-3, 3, dtype=numpy.int64) * 2 ** 40),
        ('i32', numpy.array([-2 ** 31, 0, 2 ** 31 - 1], numpy.int32)),
        ('i16', numpy.array([-2 ** 15, 1, 2 ** 15 - 1], numpy.int16)),
        ('i8', numpy.array([-128, 0, 127], numpy.int8)),
        ('u8', numpy.arange(250, 256, dtype=numpy.uint8)),
        ('bool', numpy.array([True, False, True])),
        ('empty', numpy.zeros((0, 3), numpy.float32)),
        ('scalar', numpy.array(7.25, numpy.float64)),
    ])


def assert_exact(got, want):
    assert isinstance(got, numpy.ndarray)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.flags.c_contiguous
    assert got.tobytes() == numpy.ascontiguousarray(want).tobytes()


# -- the fixtures torch wrote


@pytest.mark.parametrize('fmt', FORMATS)
def test_a_trainer_checkpoint_reads_exactly(fmt):
    got = read_pth(fixture(fmt))
    assert sorted(got) == ['config', 'model', 'other_info', 'params',
                           'vis_info']
    model = got['model']
    assert type(model) is collections.OrderedDict
    assert list(model) == list(expected_model())
    for name, want in expected_model().items():
        assert_exact(model[name], want)
    assert model._metadata == {'': {'version': 1}}  # torch's, kept as data
    assert got['config'] == {'lr': 1e-3, 'env': 'faster-rcnn',
                             'caffe_pretrain': False, 'scales': (600, 1000),
                             'use_adam': None}
    assert got['other_info'] == {'best_map': 0.5, 'epoch': 13}
    assert type(got['other_info']['best_map']) is numpy.float64
    assert type(got['other_info']['epoch']) is numpy.int64
    assert got['vis_info'] == {'env': 'faster-rcnn', 'log_text': ''}
    assert len(got['params']) == 1  # an nn.Parameter
    assert_exact(got['params'][0], numpy.arange(3, dtype=numpy.float32))


@pytest.mark.parametrize('fmt', FORMATS)
def test_views_of_one_storage_share_it_once(fmt):
    model = read_pth(fixture(fmt))['model']
    assert numpy.shares_memory(model['base'], model['slice'])
    # a view that is not C-contiguous is a copy of its own
    assert not numpy.shares_memory(model['base'], model['transposed'])
    assert not numpy.shares_memory(model['base'], model['every_other'])
    model['base'][1, 1] = -1  # writable, and the slice sees it
    assert model['slice'][0] == -1


@pytest.mark.parametrize('fmt', FORMATS)
def test_load_torch_checkpoint_reads_the_fixture(fmt):
    state, info = load_torch_checkpoint(fixture(fmt))
    assert list(state) == list(expected_model())
    for name, want in expected_model().items():
        assert_exact(state[name], want)
    assert info == {'best_map': 0.5, 'epoch': 13}
    assert type(info['best_map']) is float
    assert type(load_torch_file(fixture(fmt))['model']['weight']) \
        is numpy.ndarray


def test_torch_is_never_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, 'torch', None)  # import torch fails
    for fmt in FORMATS:
        assert list(load_torch_checkpoint(fixture(fmt))[0]) == \
            list(expected_model())


@pytest.mark.parametrize('module', [b'numpy.core.multiarray',
                                    b'numpy._core.multiarray'])
def test_numpy_scalars_of_either_numpy_major_version(tmp_path, module):
    """A legacy file's pickles follow each other, so the global can be
    renamed in place (the zip's CRC forbids it there)."""
    data = fixture_bytes('legacy')
    for written in (b'numpy.core.multiarray', b'numpy._core.multiarray'):
        data = data.replace(written + b'\nscalar', module + b'\nscalar')
    assert data.count(module + b'\nscalar') == 1  # then memoized
    path = tmp_path / 'renamed.pth'
    path.write_bytes(data)
    assert read_pth(str(path))['other_info'] == {'best_map': 0.5,
                                                 'epoch': 13}


# -- files assembled here from pickle opcodes


def value(obj):
    """The opcodes of a plain value (no PROTO, no STOP)."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def global_(module, name):
    return pickle.GLOBAL + '{}\n{}\n'.format(module, name).encode()


def saved_storage(key, numel, storage='FloatStorage', legacy=True,
                  view=None):
    """A storage's persistent id (``view``: a legacy file's view
    metadata)."""
    return (pickle.MARK + value('storage') + global_('torch', storage)
            + value(key) + value('cpu') + value(numel)
            + (value(view) if legacy else b'') + pickle.TUPLE
            + pickle.BINPERSID)


def tensor(key, numel, size, stride, offset=0, storage='FloatStorage',
           legacy=True, view=None):
    """``_rebuild_tensor_v2`` of a storage, as torch writes it."""
    return (global_('torch._utils', '_rebuild_tensor_v2') + pickle.MARK
            + saved_storage(key, numel, storage, legacy, view)
            + value(offset) + value(size)
            + value(stride) + value(False)
            + global_('collections', 'OrderedDict') + pickle.EMPTY_TUPLE
            + pickle.REDUCE + pickle.TUPLE + pickle.REDUCE)


def a_dict(**entries):
    """A dict of opcode fragments."""
    body = b''.join(value(k) + v for k, v in entries.items())
    return pickle.EMPTY_DICT + pickle.MARK + body + pickle.SETITEMS


def whole(fragment):
    return pickle.PROTO + b'\x02' + fragment + pickle.STOP


def legacy_file(path, obj, storages=(), keys=None, magic=None,
                sys_info=None):
    """A legacy .pth: ``obj`` opcodes, ``storages`` ``(key, count,
    bytes)``; ``keys`` (opcodes) replaces their list."""
    parts = [magic or whole(value(MAGIC_NUMBER)), whole(value(1001)),
             sys_info or whole(value({'protocol_version': 1001,
                                      'little_endian': True})),
             whole(obj),
             keys or whole(value([key for key, _, _ in storages]))]
    parts += [struct.pack('<q', count) + data for _, count, data in storages]
    with open(str(path), 'wb') as f:
        f.write(b''.join(parts))
    return str(path)


def zip_file(path, obj, storages=(), prefix='archive', pkl=True,
             byteorder='little', compression=zipfile.ZIP_STORED):
    """A zip .pth: ``obj`` opcodes as data.pkl, ``storages`` ``(key,
    bytes)``."""
    with zipfile.ZipFile(str(path), 'w', compression) as z:
        if pkl:
            z.writestr(prefix + '/data.pkl', whole(obj))
        z.writestr(prefix + '/byteorder', byteorder)
        for key, data in storages:
            z.writestr(prefix + '/data/' + key, data)
    return str(path)


FLOATS = numpy.arange(4, dtype='<f4').tobytes()


def test_files_assembled_here_read(tmp_path):
    """The helpers make files the reader reads (the bad ones below differ
    from these in one place)."""
    want = numpy.arange(4, dtype=numpy.float32).reshape(2, 2)
    path = legacy_file(tmp_path / 'legacy.pth',
                       a_dict(w=tensor('0', 4, (2, 2), (2, 1))),
                       [('0', 4, FLOATS)])
    assert_exact(read_pth(path)['w'], want)
    path = zip_file(tmp_path / 'zip.pth',
                    a_dict(w=tensor('0', 4, (2, 2), (1, 2), legacy=False)),
                    [('0', FLOATS)])
    assert_exact(read_pth(path)['w'], want.T)


def test_a_big_endian_zip_and_its_folder_name(tmp_path):
    data = numpy.arange(4, dtype='>f8').tobytes()
    path = zip_file(tmp_path / 'big.pth',
                    a_dict(w=tensor('0', 4, (4,), (1,), legacy=False,
                                    storage='DoubleStorage')),
                    [('0', data)], prefix='ckpt', byteorder='big')
    assert_exact(read_pth(path)['w'], numpy.arange(4, dtype=numpy.float64))


def test_a_legacy_storage_view(tmp_path):
    """Files of torch < 0.4 could hold views of a storage: (view key,
    offset, numel) in elements of the root storage."""
    path = legacy_file(tmp_path / 'view.pth',
                       a_dict(w=tensor('0', 4, (2,), (1,), 1,
                                       view=('7', 1, 3))),
                       [('0', 4, FLOATS)])
    assert_exact(read_pth(path)['w'], numpy.array([2, 3], numpy.float32))


def os_system(marker):
    return value(Payload(marker))  # GLOBAL posix.system (os.system)


def builtins_eval(marker):
    return (global_('builtins', 'eval')
            + value(('open({!r}, "w").close()'.format(str(marker)),))
            + pickle.REDUCE)


def assert_live(fragment, marker):
    """The fragment really runs code under a plain unpickler."""
    pickle.loads(whole(fragment))
    assert os.path.exists(str(marker))
    os.remove(str(marker))


@pytest.mark.parametrize('payload', [os_system, builtins_eval])
@pytest.mark.parametrize('where', ['main', 'magic', 'sys_info', 'keys'])
def test_a_legacy_file_that_would_run_code_is_refused(tmp_path, payload,
                                                      where):
    marker = tmp_path / 'ran'
    evil = payload(marker)
    assert_live(evil, marker)
    obj = a_dict(w=tensor('0', 4, (4,), (1,)))
    storages = [('0', 4, FLOATS)]
    if where == 'main':
        path = legacy_file(tmp_path / 'evil.pth',
                           a_dict(w=tensor('0', 4, (4,), (1,)), evil=evil),
                           storages)
    else:
        path = legacy_file(tmp_path / 'evil.pth', obj, storages,
                           **{where: whole(evil)})
    for load in (read_pth, load_torch_file, load_torch_checkpoint):
        with pytest.raises(BadFileError) as info:
            load(path)
        assert_refused(info.value, path, marker)
        assert 'refused: it asks to import' in str(info.value)
        assert ('posix.system' if payload is os_system
                else 'builtins.eval') in str(info.value)


@pytest.mark.parametrize('payload', [os_system, builtins_eval])
def test_a_zip_file_that_would_run_code_is_refused(tmp_path, payload):
    marker = tmp_path / 'ran'
    evil = payload(marker)
    path = zip_file(tmp_path / 'evil.pth',
                    a_dict(w=tensor('0', 4, (4,), (1,), legacy=False),
                           evil=evil), [('0', FLOATS)])
    for load in (read_pth, load_torch_checkpoint):
        with pytest.raises(BadFileError) as info:
            load(path)
        assert_refused(info.value, path, marker)
        assert 'could run code' in str(info.value)


@pytest.mark.parametrize('module, name', [
    ('torch', 'load'), ('numpy', 'load'), ('collections', 'namedtuple'),
    ('torch._utils', '_rebuild_from_type_v2'), ('torch\nx', 'y\nz')])
def test_every_other_global_is_refused_in_one_line(tmp_path, module, name):
    fragment = (value(module) + value(name) + pickle.STACK_GLOBAL
                + pickle.EMPTY_TUPLE + pickle.REDUCE)
    path = zip_file(tmp_path / 'odd.pth', a_dict(x=fragment))
    with pytest.raises(BadFileError, match='refused') as info:
        read_pth(path)
    assert_refused(info.value, path, tmp_path / 'none')


def test_a_numpy_object_dtype_is_not_built(tmp_path):
    obj = (global_('numpy.core.multiarray', 'scalar')
           + global_('numpy', 'dtype') + value(('O8', False, True))
           + pickle.REDUCE + value(b'12345678') + pickle.TUPLE2
           + pickle.REDUCE)
    path = legacy_file(tmp_path / 'odd.pth', obj)
    with pytest.raises(BadFileError, match='not a readable PyTorch file'):
        read_pth(path)


def test_a_python2_ordered_dict(tmp_path):
    """Python 2 pickles an OrderedDict as ``OrderedDict([[k, v], ...])``
    (files of 2017, such as torchvision's VGG16, may come from it)."""
    items = pickle.MARK + value(['w']) + tensor('0', 4, (4,), (1,)) \
        + pickle.APPEND + pickle.LIST
    obj = (global_('collections', 'OrderedDict') + items + pickle.TUPLE1
           + pickle.REDUCE)
    path = legacy_file(tmp_path / 'py2.pth', obj, [('0', 4, FLOATS)])
    got = read_pth(path)
    assert type(got) is collections.OrderedDict and list(got) == ['w']
    assert_exact(got['w'], numpy.arange(4, dtype=numpy.float32))


@pytest.mark.parametrize('built, call', [
    # a memoized string encoded again and again (each call copies it)
    ('x' * 20000, global_('_codecs', 'encode') + pickle.BINGET + b'\x00'
     + pickle.BINUNICODE + struct.pack('<I', 6) + b'latin1'  # no memo
     + pickle.TUPLE2 + pickle.REDUCE),
    # a memoized list of items made an OrderedDict again and again
    ([('k', 1)] * 20000, global_('collections', 'OrderedDict')
     + pickle.BINGET + b'\x00' + pickle.TUPLE1 + pickle.REDUCE)])
def test_a_pickle_cannot_amplify_itself(tmp_path, built, call):
    obj = (pickle.EMPTY_LIST + value(built) + pickle.POP + pickle.MARK
           + call * 5000 + pickle.APPENDS)
    path = legacy_file(tmp_path / 'bomb.pth', obj)
    assert os.path.getsize(path) < 300000  # 100 MB to build
    with pytest.raises(BadFileError, match='more .* than the file holds'):
        read_pth(path)


@pytest.mark.parametrize('fragment, why', [
    # an OrderedDict built from anything but pairs
    (global_('collections', 'OrderedDict') + value(({'a': 1},))
     + pickle.REDUCE, 'an OrderedDict of an unexpected form'),
    # a BUILD replacing a storage's array
    (saved_storage('0', 4) + pickle.EMPTY_DICT + value('array') + value([1])
     + pickle.SETITEM + pickle.BUILD, 'a storage with a state'),
    # a storage of a dtype given as a string, not torch's type
    (pickle.MARK + value('storage') + value('O') + value('0')
     + value('cpu') + value(4) + value(None) + pickle.TUPLE
     + pickle.BINPERSID, 'a storage of an unexpected form'),
    # a persistent id in the list of keys
    (saved_storage('0', 4), 'a storage where none belongs')])
def test_odd_forms_are_not_built(tmp_path, fragment, why):
    if why == 'a storage where none belongs':
        path = legacy_file(tmp_path / 'odd.pth',
                           a_dict(w=tensor('0', 4, (4,), (1,))),
                           [('0', 4, FLOATS)], keys=whole(fragment))
    else:
        path = legacy_file(tmp_path / 'odd.pth', a_dict(x=fragment),
                           [('0', 4, FLOATS)])
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, 'not a readable PyTorch file', why)


def test_a_compressed_zip_member_is_one_line(tmp_path):
    path = zip_file(tmp_path / 'deflated.pth',
                    a_dict(w=tensor('0', 4, (4,), (1,), legacy=False)),
                    [('0', FLOATS)], compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, 'compressed')


# -- damaged files and other types


def assert_one_line(info, path, *words):
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(str(path) + ': '), message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize('fmt', FORMATS)
@pytest.mark.parametrize('keep', [0.0, 0.001, 0.01, 0.3, 0.6, 0.9, 0.999])
def test_a_truncated_file_is_one_line(tmp_path, fmt, keep):
    data = fixture_bytes(fmt)
    path = tmp_path / 'cut.pth'
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(BadFileError) as info:
        read_pth(str(path))
    assert_one_line(info, path, 'not a readable PyTorch file')


@pytest.mark.parametrize('content', [b'hello', b'PK\x03\x04broken',
                                     b'\x80\x02K\x01.'])
def test_garbage_is_one_line(tmp_path, content):
    path = tmp_path / 'junk.pth'
    path.write_bytes(content)
    with pytest.raises(BadFileError) as info:
        read_pth(str(path))
    assert_one_line(info, path, 'not a readable PyTorch file')


def test_a_zip_without_data_pkl(tmp_path):
    path = zip_file(tmp_path / 'nopkl.pth', b'', [('0', FLOATS)], pkl=False)
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, 'no archive/data.pkl in the zip')


def test_a_zip_without_a_storage(tmp_path):
    path = zip_file(tmp_path / 'nodata.pth',
                    a_dict(w=tensor('1', 4, (4,), (1,), legacy=False)),
                    [('0', FLOATS)])
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, 'no archive/data/1 in the zip')


def test_a_zip_storage_shorter_than_announced(tmp_path):
    path = zip_file(tmp_path / 'short.pth',
                    a_dict(w=tensor('0', 5, (5,), (1,), legacy=False)),
                    [('0', FLOATS)])
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, 'archive/data/0 holds 16 bytes, 20 announced')


def test_a_legacy_storage_count_beyond_its_bytes(tmp_path):
    path = legacy_file(tmp_path / 'short.pth',
                       a_dict(w=tensor('0', 5, (5,), (1,))),
                       [('0', 5, FLOATS)])
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, "storage '0' is cut short")


def test_a_legacy_storage_announcing_more_than_the_file(tmp_path):
    path = legacy_file(tmp_path / 'huge.pth',
                       a_dict(w=tensor('0', 10 ** 15, (4,), (1,))),
                       [('0', 10 ** 15, FLOATS)])
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, "storage '0' is cut short")


def test_a_legacy_count_other_than_announced(tmp_path):
    path = legacy_file(tmp_path / 'odd.pth',
                       a_dict(w=tensor('0', 4, (4,), (1,))),
                       [('0', 3, FLOATS)])
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, "storage '0' holds 3 elements, 4 announced")


def test_a_legacy_key_list_other_than_the_storages(tmp_path):
    path = legacy_file(tmp_path / 'odd.pth',
                       a_dict(w=tensor('0', 4, (4,), (1,))),
                       [('0', 4, FLOATS)], keys=whole(value(['0', '1'])))
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, 'list of storages')


@pytest.mark.parametrize('size, stride, offset', [
    ((5,), (1,), 0), ((4,), (1,), 1), ((2, 2), (3, 1), 0), ((2,), (-1,), 3)])
def test_a_tensor_outside_its_storage(tmp_path, size, stride, offset):
    path = legacy_file(tmp_path / 'odd.pth',
                       a_dict(w=tensor('0', 4, size, stride, offset)),
                       [('0', 4, FLOATS)])
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path)


def test_one_element_expanded_to_terabytes_is_refused(tmp_path):
    path = legacy_file(tmp_path / 'bomb.pth',
                       a_dict(w=tensor('0', 1, (10 ** 6, 10 ** 6), (0, 0))),
                       [('0', 1, FLOATS[:4])])
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, 'non-contiguous tensors')


def test_an_expanded_tensor_is_materialised(tmp_path):
    path = legacy_file(tmp_path / 'expand.pth',
                       a_dict(w=tensor('0', 4, (3, 2), (0, 2), 1)),
                       [('0', 4, FLOATS)])
    assert_exact(read_pth(path)['w'],
                 numpy.array([[1, 3]] * 3, numpy.float32))


@pytest.mark.parametrize('storage', ['BFloat16Storage', 'ComplexFloatStorage',
                                     'QInt8Storage', 'UntypedStorage'])
@pytest.mark.parametrize('fmt', FORMATS)
def test_other_tensor_types_are_one_line(tmp_path, storage, fmt):
    obj = a_dict(w=tensor('0', 2, (2,), (1,), storage=storage,
                          legacy=fmt == 'legacy'))
    path = (legacy_file(tmp_path / 'odd.pth', obj, [('0', 2, FLOATS[:4])])
            if fmt == 'legacy' else
            zip_file(tmp_path / 'odd.pth', obj, [('0', FLOATS[:4])]))
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, 'torch.' + storage, 'not read')


# -- files torch writes (where torch is installed)


def random_state(torch, seed):
    """A state_dict of every type read, views included."""
    rng = numpy.random.RandomState(seed)
    state = collections.OrderedDict()
    for dtype in ('float32', 'float64', 'float16'):
        state[dtype] = torch.from_numpy(
            rng.standard_normal((3, 4, 5)).astype(dtype))
    for dtype in ('int64', 'int32', 'int16', 'int8', 'uint8'):
        info = numpy.iinfo(dtype)
        state[dtype] = torch.from_numpy(
            rng.randint(info.min, info.max, (7, 2), dtype=dtype))
    state['bool'] = torch.from_numpy(rng.rand(9) > 0.5)
    state['transposed'] = state['float32'].permute(2, 0, 1)
    state['sliced'] = state['float64'][1:, ::2, 3]
    state['nan_inf'] = torch.tensor([float('nan'), float('inf'), -0.0])
    state['empty'] = torch.zeros(2, 0, dtype=torch.int64)
    state['zero_d'] = torch.tensor(3, dtype=torch.int16)
    state['param'] = torch.nn.Parameter(torch.ones(2, 2))
    return state


@pytest.mark.parametrize('legacy', [False, True])
def test_files_torch_writes_read_bit_for_bit(tmp_path, legacy):
    torch = pytest.importorskip('torch')
    for seed in range(3):
        state = random_state(torch, seed)
        path = str(tmp_path / 'random.pth')
        torch.save({'model': state, 'other_info': {
            'best_map': numpy.float64(seed / 7)}}, path,
            _use_new_zipfile_serialization=not legacy)
        got = read_pth(path)
        assert list(got['model']) == list(state)
        for name, value in state.items():
            assert_exact(got['model'][name], value.detach().numpy())
        assert got['other_info']['best_map'] == numpy.float64(seed / 7)


def test_a_real_module_state_dict(tmp_path):
    torch = pytest.importorskip('torch')
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3),
                                 torch.nn.BatchNorm2d(4),
                                 torch.nn.Linear(2, 3, dtype=torch.float64))
    for legacy in (False, True):
        path = str(tmp_path / 'module.pth')
        torch.save(module.state_dict(), path,
                   _use_new_zipfile_serialization=not legacy)
        got, info = load_torch_checkpoint(path)
        assert list(got) == list(module.state_dict()) and info == {}
        for name, value in module.state_dict().items():
            assert_exact(got[name], value.numpy())


@pytest.mark.parametrize('legacy', [False, True])
def test_a_bfloat16_tensor_torch_writes_is_one_line(tmp_path, legacy):
    torch = pytest.importorskip('torch')
    path = str(tmp_path / 'bf16.pth')
    torch.save({'w': torch.ones(2, dtype=torch.bfloat16)}, path,
               _use_new_zipfile_serialization=not legacy)
    with pytest.raises(BadFileError) as info:
        read_pth(path)
    assert_one_line(info, path, 'BFloat16Storage', 'not read')
