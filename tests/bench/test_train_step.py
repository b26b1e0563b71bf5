"""bench/train_step.py and bench/conv.py on tiny inputs: every stage is
timed, the table holds every side, the layer rows agree with Chainer."""

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _load(name):
    sys.path.insert(0, os.path.join(ROOT, 'bench'))   # their `timing`
    try:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(ROOT, 'bench', name + '.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(os.path.join(ROOT, 'bench'))


@pytest.fixture(scope='module')
def train_step():
    return _load('train_step')


def test_every_stage_of_a_demo_iteration_is_timed(tmp_path, train_step):
    result = train_step.run_ours(str(tmp_path), size=(64, 96), repeat=1,
                                 demo=True)
    stages = result['stages']
    assert result['iteration'] > 0 and result['predict'] > 0
    # the demo trains every block: each has a forward and a backward
    for name in ('extractor', 'backward', 'rpn', 'head', 'data') + \
            train_step.BLOCKS:
        assert stages[name] > 0, name
        if name in train_step.BLOCKS:
            assert stages['backward of ' + name] > 0, name
    assert sum(stages['block {}'.format(b)] for b in range(1, 6)) <= \
        stages['extractor']
    assert result['memory'][1] > 0
    # the timers are gone afterwards
    assert not train_step._ACTIVE
    table = train_step.format_table({'ours': result, 'chainer': result})
    assert '| training iteration |' in table
    assert '-- backward of block 1 |' in table


def test_table_with_the_pytorch_version(train_step):
    ours = {'iteration': 2., 'predict': 1., 'memory': ('max resident', 2 **
                                                       30),
            'stages': {}}
    torch = {'iteration': 1., 'predict': 1., 'memory': ('max resident',
                                                        2 ** 31)}
    table = train_step.format_table({'ours': ours, 'torch': torch})
    assert '| training iteration | 2000 ms | 1000 ms | 2.00 |' in table
    assert '| peak memory (max resident) | 1024 MiB | 2048 MiB | 0.50 |' \
        in table


def test_conv_rows_agree_with_chainer():
    conv = _load('conv')
    layers = conv.layers((32, 48))
    names = [layer[0] for layer in layers]
    assert names[:5] == ['conv1_1', 'relu1_1', 'conv1_2', 'relu1_2', 'pool1']
    assert len([n for n in names if n.startswith('conv')]) == 13
    import numpy
    rng = numpy.random.RandomState(0)
    for layer in layers[:5]:
        row = conv.measure_layer(layer, 1, rng)
        assert row['agree'] < 1e-5 and row['ours'] > 0
    assert '**all**' in conv.format_table([row])
