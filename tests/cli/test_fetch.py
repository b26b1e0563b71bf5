"""fasterrcnn-fetch (fasterrcnn/cli/fetch.py): the list, a fetch through a
mirror on the loopback address, and each failure as one line with its exit
status."""

import pytest

from fasterrcnn.artifacts import fetch as fetch_module
from fasterrcnn.artifacts.table import ARTIFACTS
from fasterrcnn.cli import fetch as fetch_cli
from tests.artifacts.test_fetch import FILES, TABLE
from tests.support.loopback import Loopback


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
