"""bench/train_step.py and bench/conv.py on tiny inputs: every stage is
timed, the table holds every side, the layer rows agree with Chainer;
every side does the same work (example, preparation, weights, counts)."""

import importlib.util
import json
import os
import sys

import numpy
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


@pytest.fixture(scope='module')
def timing():
    return _load('timing')


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
    # the spread of the runs, and what the image made the side do: the
    # warm-up, the plain run and the timed run; predict's warm-up and run
    assert result['iteration_spread']['n'] == 1
    assert result['iteration_times'] == [result['iteration']]
    train, predict = result['counts']['train'], result['counts']['predict']
    assert [len(train[name]) for name in train_step.TRAIN_COUNTS] == [3] * 5
    assert train['sampled rois'][0] <= 128
    assert train['positive rois'][0] <= train['sampled rois'][0]
    assert train['positive anchors'][0] + train['negative anchors'][0] \
        <= 256
    assert len(predict['proposals']) == len(predict['detections']) == 2
    # predict starts from the same weights each time
    assert len(set(predict['detections'])) == 1
    assert result['environment']['numpy'] == numpy.__version__
    assert len(result['sgemm_gflops']) == 2


def test_the_trainer_trains_on_the_example_unflipped(tmp_path, train_step):
    trainer, model = train_step.build(str(tmp_path), size=(64, 96),
                                      demo=True, extra=['data.flip=false'])
    example = train_step.bench_example('random', (64, 96))
    prepared = train_step.feed_example(trainer, example)
    img, scale = model.prepare(example[0])
    numpy.testing.assert_array_equal(prepared[0], img)
    assert prepared[3] == img.shape[1] / 64.
    iterator = trainer.updater.get_iterator('main')
    for _ in range(len(iterator.dataset) + 1):  # past an epoch's end
        batch = iterator.next()
        assert len(batch) == 1
        numpy.testing.assert_array_equal(batch[0][0], prepared[0])
        numpy.testing.assert_array_equal(batch[0][1], prepared[1])
        numpy.testing.assert_array_equal(batch[0][2], example[2])
    iterator.finalize()


def test_bench_examples(tmp_path, train_step):
    img, bbox, label = train_step.bench_example('random', (60, 80))
    again = train_step.bench_example('random', (60, 80))
    for a, b in zip((img, bbox, label), again):
        numpy.testing.assert_array_equal(a, b)
    assert img.shape == (3, 60, 80) and img.dtype == numpy.float32
    assert (img == numpy.round(img)).all() and 0 <= img.min() <= \
        img.max() <= 255
    assert len(bbox) == len(label) == 3
    assert (bbox[:, 2:] <= [60, 80]).all() and (bbox >= 0).all()
    assert label.max() < len(train_step.LABEL_NAMES)
    path = str(tmp_path / 'example.npz')
    train_step.write_example(path, (img, bbox, label))
    for a, b in zip(train_step.read_example(path), (img, bbox, label)):
        numpy.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        train_step.bench_example('noise', (60, 80))


def test_counts_read_the_same_names_on_both_sides(train_step):
    class Creator(object):
        def __init__(self, out):
            self.out = out

        def __call__(self, *args, **kwargs):
            return self.out

    rpn, owner = Creator(None), Creator(None)
    rpn.proposal_layer = Creator(numpy.zeros((7, 4), numpy.float32))
    owner.proposal_target_creator = Creator(
        (None, None, numpy.array([0, 2, 1, 0, 0], numpy.int32)))
    owner.anchor_target_creator = Creator(
        (None, numpy.array([1, 0, -1, 0, 1, 0], numpy.int32)))
    counts = train_step.Counts()
    counts.install(rpn, owner)
    rpn.proposal_layer(1, 2, scale=3.)
    owner.proposal_target_creator(1)
    owner.anchor_target_creator(1)
    assert counts.train == {'proposals': [7], 'sampled rois': [5],
                            'positive rois': [2], 'positive anchors': [2],
                            'negative anchors': [3]}
    counts.phase = 'predict'
    rpn.proposal_layer()
    counts.add('detections', 4)
    assert counts.as_dict()['predict'] == {'proposals': [7],
                                           'detections': [4]}
    table = train_step.format_counts({'ours': {'counts': counts.as_dict()}})
    assert '| training: proposals | 7 |' in table
    assert '| predict: detections | 4 |' in table


def test_inputs_are_compared(tmp_path, train_step):
    root = str(tmp_path)
    img = numpy.ones((3, 4, 5), numpy.float32)
    bbox = numpy.array([[0, 0, 2, 2]], numpy.float32)
    train_step._write_input(train_step._input_file(root, 'ours'), img,
                            bbox, 1.)
    train_step._write_input(train_step._input_file(root, 'torch'),
                            img + 0.5, bbox, 1.)
    train_step._write_input(train_step._input_file(root, 'chainer'),
                            img[:, :3], bbox, 2.)
    inputs = train_step.compare_inputs(root, ['ours', 'chainer', 'torch'])
    assert inputs['reference'] == 'ours' and inputs['shape'] == [3, 4, 5]
    assert inputs['differences']['torch'] == {'image': 0.5, 'bbox': 0.,
                                              'scale': 0.}
    assert inputs['differences']['chainer']['image'] == 'shape [3, 3, 5]'
    assert inputs['differences']['chainer']['scale'] == 1.
    text = train_step.format_environment({}, None, inputs)
    assert 'image max |diff| 0.5' in text
    assert train_step.compare_inputs(str(tmp_path / 'none'), ['ours']) \
        is None


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


def test_table_with_the_spread_of_the_runs(train_step, timing):
    ours = {'iteration': 2., 'iteration_spread': timing.spread([1.8, 2.,
                                                                2.4]),
            'predict': 1., 'memory': ('max resident', 2 ** 30),
            'stages': {'data': 0.01}}
    torch = {'iteration': 1., 'iteration_spread': timing.spread([1., 0.9,
                                                                 1.2]),
             'predict': 1., 'memory': ('max resident', 2 ** 31)}
    table = train_step.format_table({'ours': ours, 'torch': torch})
    # 1.8 / 1.2 = 1.5 and 2.4 / 0.9 = 2.67
    assert '| training iteration | 2000 ms (1800-2400) | 1000 ms ' \
        '(900-1200) | 2.00 (1.50-2.67) |' in table
    assert '| - data | 10 ms | - |' in table


def test_spread_and_runs(timing):
    s = timing.spread([3., 1., 2., 5., 4.])
    assert s == {'median': 3., 'min': 1., 'max': 5., 'q1': 2., 'q3': 4.,
                 'n': 5}
    assert timing.spread([2.])['q1'] == timing.spread([2.])['q3'] == 2.
    calls = []
    runs = timing.run_times(lambda: calls.append(1), 3)
    assert len(calls) == 4 and len(runs.times) == len(runs.others) == 3
    for share in runs.others:
        assert share is None or 0 <= share
    assert timing.median_time(lambda: None, 2) >= 0


def test_sides_do_the_same_work_under_a_chosen_kernel(
        tmp_path, capsys, train_step):
    out = str(tmp_path / 'figures.json')
    assert train_step.main(['--demo', '--size', '64', '96', '--repeat', '2',
                            '--sides', 'ours', 'chainer', '--coretype',
                            'Haswell', '--json', out]) == 0
    printed = capsys.readouterr().out
    with open(out) as f:
        figures = json.load(f)
    assert figures['settings']['coretype'] == 'Haswell'
    assert figures['settings']['image'] == 'random'
    assert figures['machine']['cores'] >= 1
    for side in ('ours', 'chainer'):
        env = figures[side]['environment']
        assert env['OPENBLAS_CORETYPE'] == 'Haswell'
        assert figures[side]['iteration_spread']['n'] == 2
        assert len(figures[side]['iteration_others']) == 2
    # the same input, hence the same proposals and targets at first, the
    # same detections
    assert figures['inputs']['differences']['chainer'] == {
        'image': 0., 'bbox': 0., 'scale': 0.}
    counts = [figures[side]['counts'] for side in ('ours', 'chainer')]
    for name in ('proposals', 'sampled rois', 'positive rois',
                 'positive anchors', 'negative anchors'):
        assert counts[0]['train'][name][0] == counts[1]['train'][name][0]
    assert counts[0]['predict'] == counts[1]['predict']
    assert '| training iteration |' in printed
    assert '| training: proposals |' in printed
    assert 'OPENBLAS_CORETYPE Haswell' in printed


def test_torch_environment_names_its_kernels(train_step):
    torch = pytest.importorskip(
        'torch', reason='torch is installed in the torch environments only')
    env = train_step.torch_environment(torch)
    assert env['torch'] == torch.__version__
    assert env['threads'] == torch.get_num_threads() >= 1
    assert env['interop_threads'] >= 1
    assert isinstance(env['onednn_used'], bool)
    assert train_step.torch_speed(torch, repeat=1, n=64) > 0


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
