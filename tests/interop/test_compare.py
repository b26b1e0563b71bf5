"""fasterrcnn-compare (and fasterrcnn-interop's errors): the command line
and its error path (fasterrcnn/interop/compare.py). The golden comparison
itself is tested in tests/interop/test_golden.py."""

import os
import subprocess
import sys

import pytest

from fasterrcnn.interop import compare


def test_dump_torch_names_what_is_not_a_checkout(tmp_path, capsys):
    out = str(tmp_path / 'x.npz')
    assert compare.main(['dump-torch', '--torch-repo', str(tmp_path),
                         '--recipe-seed', '3', '--out', out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path) in err[0]
    assert 'simple-faster-rcnn-pytorch' in err[0] and '367db36' in err[0]
    assert not os.path.exists(out)


def test_dump_torch_without_torchvision_says_what_to_install(
        tmp_path, capsys):
    for name in ('trainer.py', 'model/faster_rcnn_vgg16.py',
                 'utils/config.py'):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text('')
    try:
        import torchvision  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip('torchvision is installed here: the message is for '
                    'environments without it')
    assert compare.main(['live', '--torch-repo', str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'make venv-torch' in err[0]


def test_dump_torch_needs_a_weights_source(tmp_path, capsys):
    assert compare.main(['dump-torch', '--torch-repo', str(tmp_path),
                         '--out', str(tmp_path / 'x.npz')]) == 2
    assert '--checkpoint' in capsys.readouterr().err


@pytest.mark.parametrize('command', [
    ['fasterrcnn-compare'],
    [sys.executable, '-m', 'fasterrcnn.interop.compare'],
    ['fasterrcnn-interop'], [sys.executable, '-m', 'fasterrcnn.interop']])
def test_errors_name_the_installed_command(tmp_path, command):
    # Either way of running it, its errors speak of its installed name.
    if command[0].startswith('fasterrcnn-'):
        found = os.path.join(os.path.dirname(sys.executable), command[0])
        if not os.path.isfile(found):
            pytest.skip('{} is not installed beside {}'.format(
                command[0], sys.executable))
        command = [found]
    name = 'fasterrcnn-compare' if 'compare' in ' '.join(command) else \
        'fasterrcnn-interop'
    verb = ['golden'] if name == 'fasterrcnn-compare' else ['chainer2torch']
    missing = str(tmp_path / 'no-such.npz')
    done = subprocess.run(command + verb + [missing, str(tmp_path / 'x')],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(name + ': error: '), \
        done.stderr
    assert 'python -m' not in done.stderr


def test_chainer2torch_without_torch_says_writing(
        tmp_path, capsys, monkeypatch):
    from fasterrcnn.interop import convert
    from fasterrcnn.weights.model_io import save_model
    from tests.support.dummy_model import tiny_model
    model_file = str(tmp_path / 'model.npz')
    save_model(tiny_model(2), model_file, ['a', 'b'])
    monkeypatch.setitem(sys.modules, 'torch', None)     # as if not installed
    out = str(tmp_path / 'out.pth')
    assert convert.main(['chainer2torch', model_file, out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('fasterrcnn-interop: error: ')
    assert 'writing a .pth file needs torch' in err[0] and out in err[0]
    assert not os.path.exists(out)
