"""bench/evaluate.py: both sides alternate and the switch is left on;
``--only`` runs one side and reports the peak memory."""

import chainer
import pytest

from fasterrcnn.evaluation import side_by_side
from tests.bench.test_train_step import _load


@pytest.fixture(autouse=True)
def own_setting():
    """The switch is this thread's own Chainer setting: none is left
    behind."""
    yield
    if 'fasterrcnn_side_by_side' in vars(chainer.config._local):
        del chainer.config.fasterrcnn_side_by_side


def test_alternating_passes(capsys):
    bench = _load('evaluate')
    assert bench.main(['--size', '64', '96', '--n-images', '3',
                       '--passes', '2']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ('side by side: 2 pairs of passes of 3 images of 64 x '
                      "96, the demo's model, initial weights; the time an "
                      'image')
    assert [line.split(' | ')[0] for line in out[3:6]] == \
        ['| off', '| on', '| on - off, paired']
    assert out[6].startswith('CPU: ')
    assert side_by_side.enabled()


def test_one_side_with_its_memory(capsys, monkeypatch):
    bench = _load('evaluate')
    monkeypatch.setattr(side_by_side, 'SMALL_PIXELS',
                        side_by_side.SMALL_PIXELS)
    assert bench.main(['--size', '64', '96', '--n-images', '2',
                       '--passes', '1', '--only', 'off',
                       '--small-pixels', '100']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('side by side off: 1 passes of 2 images')
    assert 'ms an image; max resident' in out[1]
    assert side_by_side.SMALL_PIXELS == 100
    assert not side_by_side.enabled()
