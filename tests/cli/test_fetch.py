"""fasterrcnn-fetch (fasterrcnn/cli/fetch.py): the list, a fetch through a
mirror on the loopback address, and each failure as one line with its exit
status."""

import hashlib
import io
import os
import tarfile

import numpy
import pytest

from fasterrcnn.artifacts import fetch as fetch_module
from fasterrcnn.artifacts.table import ARTIFACTS, file_name
from fasterrcnn.cli import fetch as fetch_cli
from fasterrcnn.cli import train as train_cli
from fasterrcnn.config import load_config
from fasterrcnn.errors import ConfigError
from fasterrcnn.training.builder import build_model
from tests.artifacts.test_fetch import FILES, OFFICIAL, TABLE
from tests.support.dummy_model import TINY_MODEL_KEYS, tiny_model
from tests.support.loopback import Loopback
from tests.support.tiny_run import TINY
from tests.weights.test_imagenet import assert_loaded, caffe_names, vgg_state


@pytest.fixture
def mirror(monkeypatch, tmp_path):
    monkeypatch.setattr(fetch_module, 'BACKOFF_SECONDS', 0.)
    monkeypatch.setattr(fetch_module, 'RETRIES', 2)
    for name, artifact in TABLE.items():
        monkeypatch.setitem(ARTIFACTS, name, artifact)
    for key, folder in (('FASTERRCNN_HOME', 'own'), ('TORCH_HOME', 'torch'),
                        ('CHAINER_DATASET_ROOT', 'chainer')):
        monkeypatch.setenv(key, str(tmp_path / folder))
    monkeypatch.delenv('FASTERRCNN_OFFLINE', raising=False)
    with Loopback(FILES) as server:
        monkeypatch.setenv('FASTERRCNN_MIRROR', server.base)
        yield server


def test_list_names_every_artifact_with_url_and_check(capsys):
    assert fetch_cli.main(['--list']) == 0
    out = capsys.readouterr().out
    for artifact in ARTIFACTS.values():
        assert artifact.name + ': ' in out
        assert '{}  ({})'.format(artifact.url, artifact.check) in out


def test_fetch_prints_where_each_file_is(mirror, capsys, tmp_path):
    assert fetch_cli.main(['weights', 'data', '--no-progress']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('weights: ' + str(tmp_path / 'torch'))
    assert lines[1].startswith('data: ' + str(tmp_path / 'own' / 'data'))


@pytest.mark.parametrize('argv, status, text', [
    (['vgg19'], 2, "unknown artifact 'vgg19'"),
    ([], 2, 'name what to fetch'),
    (['escape'], 2, "member '../outside.txt'"),
])
def test_mistakes_are_one_line_with_status_2(mirror, capsys, argv, status,
                                             text):
    assert fetch_cli.main(argv + ['--no-progress']) == status
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and text in err[0]
    assert err[0].startswith('fasterrcnn-fetch: error: ')


def test_a_wrong_checksum_is_status_2(mirror, capsys, monkeypatch):
    monkeypatch.setitem(ARTIFACTS, 'weights', TABLE['weights']._replace(
        check='sha256:00000000'))
    assert fetch_cli.main(['weights', '--no-progress']) == 2
    assert 'nothing was kept' in capsys.readouterr().err


def test_the_network_is_status_3(mirror, capsys):
    mirror.truncate['model.npz'] = 5
    assert fetch_cli.main(['model', '--no-progress']) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'failed 2 times' in err[0]


def voc_tar(data_dir):
    """The shapes data set as PASCAL VOC's tars hold it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as archive:
        archive.add(data_dir, arcname='VOCdevkit/VOC2007')
    return buffer.getvalue()


def test_config_names_stand_for_their_cache_paths(monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('FASTERRCNN_HOME', str(tmp_path / 'own'))
    config = load_config(None, ['model.pretrained=torchvision',
                                'data.dir=voc2007'])
    assert config.model.pretrained == str(
        tmp_path / 'torch' / 'hub' / 'checkpoints' / 'vgg16-397923af.pth')
    assert config.data.dir == str(tmp_path / 'own' / 'data' / 'VOCdevkit' /
                                  'VOC2007')
    # Any other value is a path, as before.
    assert load_config(None, ['data.dir=voc2007x']).data.dir == \
        os.path.abspath('voc2007x')


def test_a_named_pretrained_needs_its_normalisation(monkeypatch,
                                                    tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    for name, wrong in (('caffe', 'torchvision'), ('torchvision', 'caffe')):
        with pytest.raises(ConfigError) as info:
            load_config(None, ['model.pretrained=' + name,
                               'model.normalize=' + wrong])
        assert 'set model.normalize={}'.format(name) in str(info.value)
    config = load_config(None, ['model.pretrained=caffe',
                                'model.normalize=caffe'])
    assert config.model.pretrained == str(
        tmp_path / 'torch' / 'hub' / 'checkpoints' / 'vgg16-00b39a1b.pth')


def test_torchvision_names_the_weights_of_the_backbone(monkeypatch,
                                                       tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    folder = tmp_path / 'torch' / 'hub' / 'checkpoints'
    for backbone, name in (('vgg16', 'vgg16-397923af.pth'),
                           ('resnet50', 'resnet50-0676ba61.pth'),
                           ('resnet101', 'resnet101-63fe2227.pth')):
        # The backbone may come after the name (a later override).
        config = load_config(None, ['model.pretrained=torchvision',
                                    'model.backbone=' + backbone])
        assert config.model.pretrained == str(folder / name)
    with pytest.raises(ConfigError) as info:
        load_config(None, ['model.backbone=resnet50',
                           'model.pretrained=caffe',
                           'model.normalize=caffe'])
    assert 'caffe names weights for model.backbone vgg16 only, and ' \
        'model.backbone is resnet50' in str(info.value)


def test_the_caffe_vgg16_is_fetched_and_read_as_published(monkeypatch,
                                                          tmp_path):
    # A stand-in of the tiny model's shapes, fc6 / fc7 under the published
    # file's names (classifier.1 / .4), served where the table says.
    state = vgg_state(tiny_model(), seed=3)
    buffer = io.BytesIO()
    numpy.savez(buffer, **caffe_names(state))
    body = buffer.getvalue()
    prefix = hashlib.sha256(body).hexdigest()[:8]
    artifact = ARTIFACTS['vgg16-caffe']._replace(
        url=OFFICIAL + 'vgg16-{}.npz'.format(prefix),
        check='sha256:' + prefix)
    monkeypatch.setitem(ARTIFACTS, 'vgg16-caffe', artifact)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.delenv('FASTERRCNN_OFFLINE')
    config = load_config(None, list(TINY_MODEL_KEYS) + [
        'model.pretrained=caffe', 'model.normalize=caffe',
        'model.freeze_conv12=true'])
    with Loopback({file_name(artifact): body}) as server:
        monkeypatch.setenv('FASTERRCNN_MIRROR', server.base)
        model = build_model(config, 3)
        build_model(config, 3)  # the second is served from the cache
    assert server.requests == [file_name(artifact)]
    assert_loaded(model, state)


@pytest.mark.e2e
def test_training_fetches_the_data_set_it_names(monkeypatch, tmp_path,
                                                data_dir, capsys):
    body = voc_tar(data_dir)
    check = 'md5:' + hashlib.md5(body).hexdigest()
    served = {}
    for name in ('voc2007-trainval', 'voc2007-test'):
        artifact = ARTIFACTS[name]._replace(check=check)
        monkeypatch.setitem(ARTIFACTS, name, artifact)
        served[file_name(artifact)] = body
    monkeypatch.setattr(fetch_module, 'BACKOFF_SECONDS', 0.)
    monkeypatch.setenv('FASTERRCNN_HOME', str(tmp_path / 'own'))
    monkeypatch.delenv('FASTERRCNN_OFFLINE')
    out = str(tmp_path / 'run')
    config = str(tmp_path / 'tiny.yaml')
    with open(config, 'w') as f:
        f.write('data:\n  dir: voc2007\n')
    argv = ['--config', config, '--out', out, '--no-progress']
    for item in TINY + ['train.iterations=2', 'eval.every=[2]',
                        'train.snapshot_every=2']:
        argv += ['--set', item]
    with Loopback(served) as server:
        monkeypatch.setenv('FASTERRCNN_MIRROR', server.base)
        assert train_cli.main(argv) == 0
    assert sorted(server.requests) == sorted(served)
    assert os.path.isfile(os.path.join(out, 'model.npz'))
    # Offline, a missing data set is one line and a fault (status 3).
    monkeypatch.setenv('FASTERRCNN_OFFLINE', '1')
    monkeypatch.setenv('FASTERRCNN_HOME', str(tmp_path / 'empty'))
    capsys.readouterr()
    assert train_cli.main(['--config', config, '--out',
                           str(tmp_path / 'run2'), '--no-progress']) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'FASTERRCNN_OFFLINE is set' in err[0]
