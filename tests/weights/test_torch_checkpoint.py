"""Reading the PyTorch version's .pth files as data only
(fasterrcnn/weights/torch_checkpoint.py).

Needs torch: `make test` runs these in the numpy 2 environment, which has
the CPU build of torch; the numpy 1.26 environment has none.
"""

import collections
import io
import os
import zipfile

import numpy
import pytest

from fasterrcnn.safe_npz import BadFileError
from fasterrcnn.weights.torch_checkpoint import (load_torch_checkpoint,
                                                 load_torch_file,
                                                 save_torch_state_dict)
from tests.support.hostile import Payload, assert_refused

torch = pytest.importorskip(
    'torch', reason='torch is installed in the numpy 2 environment only')


def state_dict():
    rs = numpy.random.RandomState(0)
    return collections.OrderedDict(
        (name, torch.from_numpy(rs.standard_normal(shape).astype('f4')))
        for name, shape in (('rpn.conv1.weight', (4, 3, 3, 3)),
                            ('rpn.conv1.bias', (4,))))


def trainer_checkpoint(path, best_map):
    """What the PyTorch version's ``trainer.save(best_map=...)`` writes."""
    torch.save({'model': state_dict(),
                'config': {'lr': 1e-3, 'env': 'faster-rcnn',
                           'caffe_pretrain': False},
                'other_info': {'best_map': best_map},
                'vis_info': {'env': 'faster-rcnn', 'log_text': ''}},
               str(path))
    return str(path)


def assert_same(got):
    for name, value in state_dict().items():
        numpy.testing.assert_array_equal(got[name], value.numpy())


def test_bare_state_dict(tmp_path):
    path = str(tmp_path / 'bare.pth')
    torch.save(state_dict(), path)
    got, info = load_torch_checkpoint(path)
    assert list(got) == list(state_dict()) and info == {}
    assert_same(got)


def test_trainer_checkpoint_with_numpy_scalars(tmp_path):
    path = trainer_checkpoint(tmp_path / 'ckpt.pth', numpy.float64(0.7031))
    got, info = load_torch_checkpoint(path)
    assert_same(got)
    assert info == {'best_map': 0.7031}
    assert type(info['best_map']) is float


def _rename_global(path, old, new):
    """Rewrites the pickle of a torch zip file to name ``new`` for ``old``
    (a checkpoint written under the other NumPy major version)."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, \
            zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith('data.pkl'):
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode())
            dst.writestr(item, data)
    with open(path, 'wb') as f:
        f.write(out.getvalue())


@pytest.mark.parametrize('module', ['numpy.core.multiarray',
                                    'numpy._core.multiarray'])
def test_numpy_scalars_of_either_numpy_major_version(tmp_path, module):
    path = trainer_checkpoint(tmp_path / 'ckpt.pth', numpy.float64(0.5))
    with zipfile.ZipFile(path) as z:
        pickle = [z.read(n) for n in z.namelist() if n.endswith('data.pkl')]
    written = ('numpy._core.multiarray' if b'numpy._core' in pickle[0]
               else 'numpy.core.multiarray')
    if written != module:
        _rename_global(path, written + '\nscalar',  module + '\nscalar')
    assert load_torch_checkpoint(path)[1] == {'best_map': 0.5}


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'ran'
    path = str(tmp_path / 'evil.pth')
    torch.save({'model': state_dict(), 'other_info': Payload(marker)}, path)
    torch.load(path, weights_only=False)  # the file really is hostile
    assert marker.exists()
    os.remove(str(marker))
    for load in (load_torch_file, load_torch_checkpoint):
        with pytest.raises(BadFileError) as info:
            load(path)
        assert_refused(info.value, path, marker)
        assert 'system' in str(info.value)


@pytest.mark.parametrize('content', [b'', b'hello', b'PK\x03\x04broken'])
def test_not_a_pytorch_file(tmp_path, content):
    path = tmp_path / 'junk.pth'
    path.write_bytes(content)
    with pytest.raises(BadFileError, match='junk.pth') as info:
        load_torch_checkpoint(str(path))
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize('content', [{'model': 3}, [1, 2], {}])
def test_no_state_dict(tmp_path, content):
    path = str(tmp_path / 'odd.pth')
    torch.save(content, path)
    with pytest.raises(BadFileError, match='holds no state_dict'):
        load_torch_checkpoint(path)


def test_save_round_trip_is_exact(tmp_path):
    arrays = {k: v.numpy() for k, v in state_dict().items()}
    path = str(tmp_path / 'out.pth')
    save_torch_state_dict(arrays, path)
    assert os.listdir(str(tmp_path)) == ['out.pth']
    got = torch.load(path, weights_only=True)
    for name, value in arrays.items():
        assert got[name].numpy().tobytes() == value.tobytes()
    assert_same(load_torch_checkpoint(path)[0])
