"""Fetching into the caches (fasterrcnn/artifacts/fetch.py), against a
server on the loopback address with small stand-in files; nothing reaches
beyond 127.0.0.1 (the table's URLs are replaced by the mirror)."""

import hashlib
import io
import os
import tarfile

import numpy
import pytest

from fasterrcnn.artifacts import fetch as fetch_module
from fasterrcnn.artifacts.fetch import (ChecksumError, FetchError, fetch,
                                        resolve)
from fasterrcnn.artifacts.table import ARTIFACTS, GROUPS, Artifact
from fasterrcnn.artifacts.tar import UnsafeArchiveError
from tests.support.loopback import Loopback

#: Never contacted: the mirror of every test points at the loopback server.
OFFICIAL = 'http://official.invalid/models/'


def npz_bytes():
    buffer = io.BytesIO()
    numpy.savez(buffer, w=numpy.arange(6, dtype=numpy.float32))
    return buffer.getvalue()


def tar_bytes(members):
    """A tar of ``{name: bytes or ('symlink', target)}``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type = tarfile.SYMTYPE
                info.linkname = content[1]
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


WEIGHTS = b'weights of a stand-in VGG16' * 1000
SHA = hashlib.sha256(WEIGHTS).hexdigest()
DATA = tar_bytes({'VOCdevkit/VOC2007/ImageSets/Main/test.txt': b'000001\n',
                  'VOCdevkit/VOC2007/JPEGImages/000001.jpg': b'jpeg'})
FILES = {'vgg16-{}.pth'.format(SHA[:8]): WEIGHTS,
         'model.npz': npz_bytes(),
         'VOCtest.tar': DATA,
         'escape.tar': tar_bytes({'../outside.txt': b'x'}),
         'link.tar': tar_bytes({'a/link': ('symlink', '../../etc/passwd')})}
TABLE = {
    'weights': Artifact('weights', OFFICIAL + 'vgg16-{}.pth'.format(SHA[:8]),
                        'sha256:' + SHA[:8], 'torch', 'hub/checkpoints',
                        None, 'stand-in weights'),
    'model': Artifact('model', OFFICIAL + 'model.npz', 'npz', 'chainercv',
                      'models', None, 'stand-in chainercv model'),
    'data': Artifact('data', OFFICIAL + 'VOCtest.tar',
                     'md5:' + hashlib.md5(DATA).hexdigest(), 'own', 'data',
                     '.', 'stand-in VOC tar'),
    'escape': Artifact('escape', OFFICIAL + 'escape.tar',
                       'md5:' + hashlib.md5(FILES['escape.tar']).hexdigest(),
                       'own', 'data', '.', 'a tar leaving its folder'),
    'link': Artifact('link', OFFICIAL + 'link.tar',
                     'md5:' + hashlib.md5(FILES['link.tar']).hexdigest(),
                     'own', 'data', '.', 'a tar with a link leaving it'),
}


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(fetch_module, 'BACKOFF_SECONDS', 0.)
    with Loopback(FILES) as loopback:
        yield loopback


@pytest.fixture
def env(tmp_path, server):
    return {'FASTERRCNN_MIRROR': server.base,
            'FASTERRCNN_HOME': str(tmp_path / 'own'),
            'TORCH_HOME': str(tmp_path / 'torch'),
            'CHAINER_DATASET_ROOT': str(tmp_path / 'chainer')}


def test_each_kind_is_fetched_into_its_cache_then_served_from_it(
        env, server, tmp_path):
    path = fetch(TABLE['weights'], progress=False, environ=env)
    assert path == str(tmp_path / 'torch' / 'hub' / 'checkpoints' /
                       'vgg16-{}.pth'.format(SHA[:8]))
    with open(path, 'rb') as f:
        assert f.read() == WEIGHTS
    model = fetch(TABLE['model'], progress=False, environ=env)
    assert model.startswith(str(tmp_path / 'chainer' / 'pfnet' /
                                'chainercv' / 'models'))
    data = fetch(TABLE['data'], progress=False, environ=env)
    assert os.path.isfile(os.path.join(
        data, 'VOCdevkit', 'VOC2007', 'ImageSets', 'Main', 'test.txt'))
    asked = list(server.requests)
    assert len(asked) == 3
    # A second time: no request at all, even offline.
    offline = dict(env, FASTERRCNN_OFFLINE='1')
    for name in ('weights', 'model', 'data'):
        fetch(TABLE[name], progress=False, environ=offline)
    assert server.requests == asked
    # Nothing but the files in the caches (no partial names).
    left = [n for _, _, names in os.walk(str(tmp_path)) for n in names
            if n.endswith('.part')]
    assert left == []


def test_a_file_another_tool_cached_is_verified_and_used(
        env, server, tmp_path):
    folder = tmp_path / 'torch' / 'hub' / 'checkpoints'
    folder.mkdir(parents=True)
    (folder / 'vgg16-{}.pth'.format(SHA[:8])).write_bytes(WEIGHTS)
    fetch(TABLE['weights'], progress=False, environ=env)
    assert server.requests == []


def test_a_damaged_cached_file_is_fetched_again(env, server, tmp_path):
    path = fetch(TABLE['weights'], progress=False, environ=env)
    with open(path, 'r+b') as f:
        f.write(b'X')
    fetch(TABLE['weights'], progress=False, environ=env)
    assert len(server.requests) == 2
    with open(path, 'rb') as f:
        assert f.read() == WEIGHTS


def test_a_checksum_that_does_not_match_keeps_nothing(env, server,
                                                      tmp_path):
    wrong = TABLE['weights']._replace(check='sha256:00000000')
    with pytest.raises(ChecksumError, match='weights: .*SHA256 [0-9a-f]{8}, '
                                            'not 00000000: nothing was kept'):
        fetch(wrong, progress=False, environ=env)
    folder = tmp_path / 'torch' / 'hub' / 'checkpoints'
    assert os.listdir(str(folder)) == []
    assert len(server.requests) == 1  # a wrong file is not fetched again


def test_a_transfer_cut_short_is_retried(env, server):
    name = 'vgg16-{}.pth'.format(SHA[:8])
    server.truncate[name] = 2
    server.fail[name] = 1
    path = fetch(TABLE['weights'], progress=False, environ=env)
    assert server.requests == [name] * 4
    with open(path, 'rb') as f:
        assert f.read() == WEIGHTS


def test_transfers_that_keep_failing_end_in_one_line(env, server,
                                                     monkeypatch, tmp_path):
    monkeypatch.setattr(fetch_module, 'RETRIES', 2)
    server.truncate['model.npz'] = 5
    with pytest.raises(FetchError, match='model: .*model.npz failed 2 '
                                         'times'):
        fetch(TABLE['model'], progress=False, environ=env)
    folder = tmp_path / 'chainer' / 'pfnet' / 'chainercv' / 'models'
    assert os.listdir(str(folder)) == []


def test_a_missing_file_is_not_retried(env, server):
    gone = TABLE['model']._replace(url=OFFICIAL + 'nothing.npz')
    with pytest.raises(FetchError, match='404'):
        fetch(gone, progress=False, environ=env)
    assert server.requests == ['nothing.npz']


def test_offline_names_the_file_its_url_and_where_to_put_it(env, server,
                                                            tmp_path):
    offline = dict(env, FASTERRCNN_OFFLINE='1')
    with pytest.raises(FetchError) as error:
        fetch(TABLE['model'], progress=False, environ=offline)
    message = error.value.args[0]
    assert OFFICIAL + 'model.npz' in message
    assert str(tmp_path / 'chainer' / 'pfnet' / 'chainercv' / 'models') in \
        message
    assert server.requests == []


@pytest.mark.parametrize('name, what', [('escape', "'../outside.txt'"),
                                        ('link', "'a/link'")])
def test_a_tar_leaving_its_folder_is_refused(env, server, tmp_path, name,
                                             what):
    with pytest.raises(UnsafeArchiveError, match=what):
        fetch(TABLE[name], progress=False, environ=env)
    assert not (tmp_path / 'own' / 'outside.txt').exists()
    assert not (tmp_path / 'own' / 'data' / 'a').exists()


def test_to_puts_the_file_elsewhere(env, server, tmp_path):
    path = fetch(TABLE['model'], to=str(tmp_path / 'here'), progress=False,
                 environ=env)
    assert path == str(tmp_path / 'here' / 'model.npz')


def test_the_table_and_its_names():
    for name, artifact in ARTIFACTS.items():
        assert artifact.name == name
        assert artifact.url.startswith(('http://', 'https://'))
        kind = artifact.check.split(':')[0]
        assert kind in ('sha256', 'md5', 'npz')
        if kind == 'sha256':
            # torch hub's convention: the prefix is in the file's name.
            assert artifact.check.split(':')[1] in artifact.url
    for group, members in GROUPS.items():
        assert [a.name for a in resolve(group)] == list(members)
    with pytest.raises(ValueError, match="unknown artifact 'vgg19'"):
        resolve('vgg19')


def test_two_copies_are_each_verified_once(env, server, tmp_path,
                                           monkeypatch):
    here = str(tmp_path / 'here')
    fetch(TABLE['weights'], progress=False, environ=env)
    fetch(TABLE['weights'], to=here, progress=False, environ=env)
    hashed = []
    digest = fetch_module._digest
    monkeypatch.setattr(fetch_module, '_digest',
                        lambda *a: hashed.append(a) or digest(*a))
    for _ in range(2):
        fetch(TABLE['weights'], progress=False, environ=env)
        fetch(TABLE['weights'], to=here, progress=False, environ=env)
    assert hashed == []  # each copy's record still holds
    assert len(server.requests) == 2
