"""bench/backbones.py on a tiny input: each backbone in its own process,
every figure in the table and the JSON."""

import json

import pytest

from tests.bench.test_train_step import _load


@pytest.mark.slow
def test_each_backbone_is_timed_in_its_own_process(tmp_path, capsys):
    # Builds a full VGG16 and ResNet-50 (seconds each).
    backbones = _load('backbones')
    out = str(tmp_path / 'result.json')
    assert backbones.main(['--backbones', 'vgg16', 'resnet50', '--size',
                           '64', '96', '--repeat', '1', '--json', out]) == 0
    table = capsys.readouterr().out
    with open(out) as f:
        results = json.load(f)
    assert [r['backbone'] for r in results] == ['vgg16', 'resnet50']
    for r in results:
        assert r['iteration'] > 0 and r['predict'] > 0 and r['memory'] > 0
        assert '| {} | pool |'.format(r['backbone']) in table
    # torchvision's ResNet-50 without fc, the RPN and the head's outputs.
    assert 28e6 < results[1]['params'] < 29e6
