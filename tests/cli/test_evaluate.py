"""fasterrcnn-eval (eval.py) end to end on a tiny model and a tiny shapes
data set."""

import json
import os
import subprocess
import sys

import chainer
import pytest

from fasterrcnn.backend import gpu_available
from fasterrcnn.cli import evaluate as eval_script
from fasterrcnn.config import load_config
from fasterrcnn.data.shapes import LABEL_NAMES, generate_shapes
from fasterrcnn.evaluation.coco import MissingDependencyError
from fasterrcnn.evaluation.metrics import METRICS
from fasterrcnn.weights.model_io import save_model
from tests.support.dummy_model import tiny_model
from tests.support.hostile import (assert_payload_is_live, assert_refused,
                                   hostile_npz, npz_arrays)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Shapes data (2 trainval, 3 test images of 64 x 80) and models."""
    root = tmp_path_factory.mktemp('eval')
    data = str(root / 'data')
    generate_shapes(data, n_train=2, n_test=3, seed=0, size=(64, 80))
    model = str(root / 'model.npz')
    save_model(tiny_model(), model, LABEL_NAMES)
    return {'root': root, 'data': data, 'model': model}


def run(argv, capsys):
    code = eval_script.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_json_and_drawings(files, capsys, tmp_path):
    result = str(tmp_path / 'result.json')
    vis = str(tmp_path / 'vis')
    code, out, err = run(['--model', files['model'], '--data', files['data'],
                          '--out', result, '--vis-dir', vis, '--vis-n', '2'],
                         capsys)
    assert code == 0, err
    # Progress lines (stderr is not a terminal here), then the table.
    assert 'eval: 3/3 images (100%) in ' in err
    for name in LABEL_NAMES:
        assert name in out
    assert 'AP VOC07 11-point' in out and 'AP area (VOC2010+)' in out
    assert 'eval.use_07_metric is true' in out

    with open(result, encoding='utf-8') as f:
        record = json.load(f)
    assert record['model'] == os.path.abspath(files['model'])
    assert record['data_dir'] == os.path.abspath(files['data'])
    assert record['split'] == 'test'
    assert record['n_images'] == 3 and record['n_images_in_split'] == 3
    assert record['label_names'] == list(LABEL_NAMES)
    assert record['use_07_metric'] is True and record['metric'] == 'voc07'
    assert record['map'] == record['map_voc07']
    for metric in ('voc07', 'voc'):
        value = record['map_' + metric]
        assert value is None or 0.0 <= value <= 1.0
        ap = record['ap_' + metric]
        assert list(ap) == list(LABEL_NAMES)
        assert all(v is None or isinstance(v, float) for v in ap.values())
    assert isinstance(record['seconds'], float)
    assert isinstance(record['images_per_second'], float)
    assert record['device'] == 'cpu'
    # Written atomically: no temporary file left beside it.
    assert sorted(os.listdir(tmp_path)) == ['result.json', 'vis']

    with open(os.path.join(files['data'], 'ImageSets', 'Main',
                           'test.txt')) as f:
        ids = f.read().split()
    assert sorted(os.listdir(vis)) == [i + '.png' for i in ids[:2]]
    with open(os.path.join(vis, ids[0] + '.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


@pytest.mark.parametrize('name', list(METRICS))
def test_every_metric_of_the_table(files, capsys, tmp_path, name):
    metric = METRICS[name]
    try:
        metric.require()
    except MissingDependencyError as e:
        pytest.skip(str(e))
    result = str(tmp_path / 'result.json')
    code, out, err = run(['--model', files['model'], '--data', files['data'],
                          '--metric', name, '--out', result,
                          '--no-progress'], capsys)
    assert code == 0, err
    with open(result, encoding='utf-8') as f:
        record = json.load(f)
    assert record['metric'] == name
    own = record['map_' + name] if metric.in_table else record[name]['map']
    assert record['map'] == own
    # The table's metrics always, the chosen one in any case.
    for other in METRICS.values():
        if other.in_table:
            assert 'map_' + other.name in record
            assert 'AP ' + other.title in out
        else:
            assert (other.name in record) == (other is metric)
            assert (other.description in out) == (other is metric)
    assert '({}; --metric {})'.format(metric.title, name) in out


def test_config_supplies_what_the_command_line_leaves_out(files, capsys,
                                                          tmp_path):
    config = tmp_path / 'eval.yaml'
    config.write_text('data:\n  dir: {}\n  test_split: trainval\n'
                      'eval:\n  use_07_metric: false\n  n_images: 1\n'
                      .format(json.dumps(files['data'])))
    result = str(tmp_path / 'result.json')
    code, out, err = run(['--model', files['model'], '--config', str(config),
                          '--out', result, '--no-progress'], capsys)
    assert code == 0, err
    assert err == ''
    with open(result, encoding='utf-8') as f:
        record = json.load(f)
    assert record['split'] == 'trainval'
    assert record['n_images'] == 1 and record['n_images_in_split'] == 2
    assert record['metric'] == 'voc'
    assert record['map'] == record['map_voc']
    assert 'eval.use_07_metric is false' in out

    # The command line wins over the config.
    code, out, err = run(['--model', files['model'], '--config', str(config),
                          '--split', 'test', '--n-images', '2',
                          '--out', result, '--no-progress'], capsys)
    assert code == 0, err
    with open(result, encoding='utf-8') as f:
        record = json.load(f)
    assert record['split'] == 'test' and record['n_images'] == 2


def assert_user_error(code, out, err, *fragments):
    assert code == 2
    assert 'Traceback' not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith('fasterrcnn-eval: error: ')
    for fragment in fragments:
        assert fragment in lines[0]
    assert out == ''


def test_missing_model(files, capsys, tmp_path):
    missing = str(tmp_path / 'nope.npz')
    assert_user_error(*run(['--model', missing, '--data', files['data']],
                           capsys), 'model file not found', missing)


def test_snapshot_instead_of_model(files, capsys, tmp_path):
    snapshot = str(tmp_path / 'snapshot_iter_10.npz')
    chainer.serializers.save_npz(snapshot, tiny_model())
    assert_user_error(*run(['--model', snapshot, '--data', files['data']],
                           capsys), 'not a model', 'snapshot')


def test_not_an_npz(files, capsys, tmp_path):
    junk = tmp_path / 'model.npz'
    junk.write_text('not a model')
    assert_user_error(*run(['--model', str(junk), '--data', files['data']],
                           capsys), str(junk))


def test_class_count_mismatch(files, capsys, tmp_path):
    model = str(tmp_path / 'two.npz')
    save_model(tiny_model(2), model)
    code, out, err = run(['--model', model, '--data', files['data']], capsys)
    assert_user_error(code, out, err, 'the model has 2 classes',
                      'the data set has 3', 'labels.txt', 'data.label_names')


def test_class_names_mismatch(files, capsys, tmp_path):
    model = str(tmp_path / 'other.npz')
    save_model(tiny_model(), model, ('circle', 'square', 'star'))
    assert_user_error(*run(['--model', model, '--data', files['data']],
                           capsys), 'only the model has star',
                      'only the data set has triangle')


def test_class_order_follows_the_model(files, capsys, tmp_path):
    model = str(tmp_path / 'reordered.npz')
    names = ('triangle', 'circle', 'square')
    save_model(tiny_model(), model, names)
    result = str(tmp_path / 'result.json')
    code, out, err = run(['--model', model, '--data', files['data'],
                          '--out', result, '--no-progress'], capsys)
    assert code == 0, err
    assert "model's class order" in err
    with open(result, encoding='utf-8') as f:
        assert json.load(f)['label_names'] == list(names)


def test_missing_split_and_data_dir(files, capsys, tmp_path):
    assert_user_error(*run(['--model', files['model'], '--data',
                            files['data'], '--split', 'val'], capsys),
                      'val.txt not found', 'splits found there: test, '
                      'trainval')
    missing = str(tmp_path / 'nodata')
    assert_user_error(*run(['--model', files['model'], '--data', missing],
                           capsys), 'data directory not found', missing)
    assert_user_error(*run(['--model', files['model']], capsys),
                      'no data directory')


def test_bad_config_and_output_dir(files, capsys, tmp_path):
    assert_user_error(*run(['--model', files['model'], '--data',
                            files['data'], '--set',
                            'eval.use_07_metric=maybe'], capsys),
                      'eval.use_07_metric')
    out = str(tmp_path / 'no' / 'such' / 'dir' / 'result.json')
    assert_user_error(*run(['--model', files['model'], '--data',
                            files['data'], '--out', out], capsys),
                      'does not exist')


def test_usage_errors_exit_2(files, capsys):
    code, _, err = run(['--data', files['data']], capsys)
    assert code == 2 and '--model' in err
    code, _, err = run(['--model', files['model'], '--n-images', '0'],
                       capsys)
    assert code == 2 and 'positive integer' in err


@pytest.mark.skipif(gpu_available(), reason='a GPU is present')
def test_gpu_without_a_device(files, capsys):
    assert_user_error(*run(['--model', files['model'], '--data',
                            files['data'], '--gpu', '0'], capsys),
                      '--gpu 0', 'no usable CUDA device')


@pytest.mark.gpu
def test_on_the_gpu(files, capsys, tmp_path):
    result = str(tmp_path / 'result.json')
    base = ['--model', files['model'], '--data', files['data'],
            '--no-progress', '--out', result]
    code, _, err = run(base, capsys)
    assert code == 0, err
    with open(result, encoding='utf-8') as f:
        cpu = json.load(f)
    code, _, err = run(base + ['--gpu', '0'], capsys)
    assert code == 0, err
    with open(result, encoding='utf-8') as f:
        gpu = json.load(f)
    assert gpu['device'] == 'gpu:0'
    assert gpu['n_images'] == cpu['n_images'] == 3
    # An untrained model's scores are nearly tied, so the ranking (and the
    # AP) may differ a little between devices; only the range is checked.
    for metric in ('voc07', 'voc'):
        assert gpu['map_' + metric] is None or \
            0.0 <= gpu['map_' + metric] <= 1.0


def test_a_model_file_that_would_run_code(files, capsys, tmp_path):
    marker = tmp_path / 'ran'
    evil = hostile_npz(tmp_path / 'model.npz', marker,
                       npz_arrays(files['model']), key='fasterrcnn_meta')
    assert_payload_is_live(evil, marker, key='fasterrcnn_meta')
    code, out, err = run(['--model', evil, '--data', files['data']], capsys)
    assert code == 2
    assert_refused(err, evil, marker, key='fasterrcnn_meta')


@pytest.mark.parametrize('command', [
    [sys.executable, os.path.join(ROOT, 'eval.py')],
    [os.path.join(os.path.dirname(sys.executable), 'fasterrcnn-eval')]])
def test_the_script_and_the_installed_command(files, command):
    # eval.py is a thin wrapper of the installed command.
    done = subprocess.run(command + ['--model', files['model'], '--data',
                                     files['data'], '--no-progress'],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert 'mAP' in done.stdout


def test_config_notes_name_the_model_keys_the_file_overrides():
    model = tiny_model()  # fc_size 16, channels (4, 4, 8, 8, 8)
    same = load_config(None, ['model.fc_size=16',
                              'model.extractor_channels=[4, 4, 8, 8, 8]'])
    assert eval_script._config_notes(same, model) == []
    # Defaults say nothing about the architecture.
    assert eval_script._config_notes(load_config(None, []), model) == []
    other = load_config(None, ['model.fc_size=32', 'model.ratios=[1]'])
    notes = eval_script._config_notes(other, model)
    assert len(notes) == 2
    assert 'model.fc_size = 32 but the model file has 16' in notes[0]
    assert 'model.ratios = [1.0]' in notes[1]
