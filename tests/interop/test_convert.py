"""python -m fasterrcnn.interop torch2chainer / chainer2torch
(fasterrcnn/interop/convert.py). Needs torch (the numpy 2 environment)."""

import os

import numpy
import pytest

from fasterrcnn.interop.convert import main
from fasterrcnn.weights.model_io import load_model, save_model
from fasterrcnn.weights.state_dict import export_state_dict
from tests.support.dummy_model import tiny_model
from tests.support.hostile import (Payload, assert_refused, hostile_npz,
                                   npz_arrays)

torch = pytest.importorskip(
    'torch', reason='torch is installed in the numpy 2 environment only')


def tiny(n_fg_class=3):
    # Blocks of different widths: the converter reads each from the shapes.
    return tiny_model(n_fg_class, extractor_channels=(4, 4, 8, 8, 16),
                      rpn_channels=8, min_size=600, max_size=1000)


def torch_state(model):
    return {k: torch.from_numpy(v)
            for k, v in export_state_dict(model).items()}


def test_trainer_checkpoint_round_trip_is_exact(tmp_path, capsys):
    source = torch_state(tiny())
    pth = str(tmp_path / 'ckpt.pth')
    torch.save({'model': source, 'other_info': {'best_map':
                                                numpy.float64(0.7)}}, pth)
    labels = tmp_path / 'labels.txt'
    labels.write_text('cat\ndog\nbird\n')
    npz = str(tmp_path / 'model.npz')
    assert main(['torch2chainer', pth, npz, '--labels', str(labels),
                 '--normalize', 'caffe']) == 0
    assert 'wrote {} (3 classes)'.format(npz) in capsys.readouterr().out
    model, names = load_model(npz)
    assert names == ['cat', 'dog', 'bird'] and model.normalize == 'caffe'
    assert model.init_args['extractor_channels'] == [4, 4, 8, 8, 16]
    back = str(tmp_path / 'back.pth')
    assert main(['chainer2torch', npz, back]) == 0
    again = torch.load(back, weights_only=True)
    assert list(again) == list(source)
    for name, value in source.items():
        assert again[name].numpy().tobytes() == value.numpy().tobytes()


def test_model_file_round_trip_is_exact(tmp_path):
    model = tiny(20)
    npz = str(tmp_path / 'model.npz')
    save_model(model, npz)
    pth = str(tmp_path / 'model.pth')
    assert main(['chainer2torch', npz, pth]) == 0
    npz2 = str(tmp_path / 'again.npz')
    assert main(['torch2chainer', pth, npz2]) == 0
    again, names = load_model(npz2)
    assert len(names) == 20 and names[0] == 'aeroplane'  # VOC for 20
    for (name, a), (_, b) in zip(sorted(model.namedparams()),
                                 sorted(again.namedparams())):
        assert a.array.tobytes() == b.array.tobytes(), name


def test_hostile_checkpoint_is_refused(tmp_path, capsys):
    marker = tmp_path / 'ran'
    pth = str(tmp_path / 'evil.pth')
    torch.save({'model': torch_state(tiny()), 'x': Payload(marker)}, pth)
    assert main(['torch2chainer', pth, str(tmp_path / 'out.npz')]) == 2
    assert_refused(capsys.readouterr().err, pth, marker)
    assert not os.path.exists(str(tmp_path / 'out.npz'))


def test_hostile_model_file_is_refused(tmp_path, capsys):
    npz = str(tmp_path / 'model.npz')
    save_model(tiny(), npz)
    marker = tmp_path / 'ran'
    evil = hostile_npz(tmp_path / 'evil.npz', marker, npz_arrays(npz),
                       key='head/score/W')
    assert main(['chainer2torch', evil, str(tmp_path / 'out.pth')]) == 2
    assert_refused(capsys.readouterr().err, evil, marker, key='head/score/W')


def test_a_state_dict_of_something_else(tmp_path, capsys):
    pth = str(tmp_path / 'resnet.pth')
    torch.save({'conv1.weight': torch.zeros(2, 3, 3, 3)}, pth)
    assert main(['torch2chainer', pth, str(tmp_path / 'out.npz')]) == 2
    err = capsys.readouterr().err
    assert pth in err and 'extractor.0.weight' in err
    assert len(err.strip().splitlines()) == 1
