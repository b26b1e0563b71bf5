"""python -m fasterrcnn.compare: its command line and its error path
(fasterrcnn/compare.py). The golden comparison itself is tested in
tests/interop/test_golden.py."""

import os

import pytest

from fasterrcnn import compare


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
