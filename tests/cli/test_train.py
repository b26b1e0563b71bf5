"""fasterrcnn-train (train_chainer.py) end to end on a tiny config: exact
resume, clear errors."""

import os
import subprocess
import sys

import numpy
import pytest

from fasterrcnn.cli import train as train_cli
from fasterrcnn.training import builder
from tests.support.hostile import (assert_payload_is_live, assert_refused,
                                   hostile_npz, npz_arrays)
from tests.support.tiny_run import (ROOT, Crash, args, crash_at_iteration,
                                    params, write_config)


@pytest.mark.e2e
def test_interrupted_and_resumed_run_ends_with_the_same_weights(
        tmp_path, data_dir, monkeypatch):
    config = write_config(tmp_path, data_dir)
    whole = os.path.join(str(tmp_path), 'whole')
    assert train_cli.main(args(config, whole)) == 0
    expected, names = params(os.path.join(whole, 'model.npz'))
    assert names == ['circle', 'square', 'triangle']
    for name in ('log', 'config.yaml', 'loss.png', 'map.png',
                 'snapshot_iter_6.npz'):
        assert os.path.isfile(os.path.join(whole, name)), name

    # The same run, killed during iteration 5 (after the snapshot of 4)...
    build = crash_at_iteration(monkeypatch, 5)
    broken = os.path.join(str(tmp_path), 'broken')
    with pytest.raises(Crash):
        train_cli.main(args(config, broken))
    assert not os.path.exists(os.path.join(broken, 'model.npz'))
    monkeypatch.setattr(train_cli, 'build_trainer', build)
    # ... then resumed from its newest snapshot.
    assert train_cli.main(args(config, broken, '--resume', 'auto')) == 0
    got, _ = params(os.path.join(broken, 'model.npz'))
    assert got.keys() == expected.keys()
    for name in expected:
        numpy.testing.assert_array_equal(got[name], expected[name],
                                         err_msg=name)
    with open(os.path.join(broken, 'log')) as f:
        assert '"iteration": 6' in f.read()


@pytest.mark.e2e
def test_resume_auto_with_no_snapshot_starts_afresh(tmp_path, data_dir):
    config = write_config(tmp_path, data_dir)
    out = os.path.join(str(tmp_path), 'fresh')
    argv = args(config, out, '--resume', 'auto', '--iterations', '2',
                '--set', 'eval.every=[2]')
    assert train_cli.main(argv) == 0
    assert os.path.isfile(os.path.join(out, 'model.npz'))


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    config = write_config(tmp_path, os.path.join(str(tmp_path), 'nowhere'))
    assert train_cli.main(args(config, str(tmp_path))) == 2
    err = capsys.readouterr().err
    assert 'data.dir' in err and 'nowhere' in err and '--set' in err


def test_missing_pretrained_weights_is_a_clear_error(tmp_path, data_dir,
                                                     capsys):
    config = write_config(tmp_path, data_dir)
    argv = args(config, str(tmp_path), '--set',
                'model.pretrained=vgg16_imagenet.npz')
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert 'model.pretrained' in err and 'vgg16_imagenet.npz' in err


def test_config_errors_name_the_key(tmp_path, data_dir, capsys):
    config = write_config(tmp_path, data_dir)
    assert train_cli.main(args(config, str(tmp_path), '--set',
                               'train.lrate=0.1')) == 2
    assert 'train.lrate' in capsys.readouterr().err
    assert train_cli.main(args(config, str(tmp_path), '--resume',
                               os.path.join(str(tmp_path), 'none'))) == 2
    assert 'snapshot' in capsys.readouterr().err.lower()


def test_class_count_mismatch(tmp_path, data_dir, capsys):
    config = write_config(tmp_path, data_dir)
    assert train_cli.main(args(config, str(tmp_path), '--set',
                               'model.n_fg_class=5')) == 2
    err = capsys.readouterr().err
    assert 'n_fg_class' in err and '3 classes' in err


def test_help_config_lists_every_key(capsys):
    assert train_cli.main(['--help-config']) == 0
    out = capsys.readouterr().out
    for key in ('model.anchor_scales', 'train.lr_shift_at', 'eval.every'):
        assert key in out


@pytest.mark.parametrize('name', sorted(os.listdir(os.path.join(
    os.path.dirname(__file__), '..', '..', 'configs'))))
def test_shipped_configs_load(name):
    from fasterrcnn.config import load_config
    config = load_config(os.path.join(os.path.dirname(__file__), '..', '..',
                                      'configs', name))
    assert config.train.iterations > 0


def test_voc07_config_says_plainly_what_is_missing(tmp_path, capsys,
                                                   monkeypatch):
    # The suite is offline: the data set it names cannot be fetched, and
    # one line says what to fetch and where (status 3: not the input's
    # fault).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('FASTERRCNN_HOME', str(tmp_path / 'cache'))
    config = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                          '..', 'configs', 'voc07_vgg16.yaml')
    assert train_cli.main(['--config', config, '--no-progress']) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert 'VOCtrainval_06-Nov-2007.tar' in err[0]
    assert os.path.join(str(tmp_path / 'cache'), 'data') in err[0]


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory, data_dir):
    """A finished 2-iteration run: its snapshot and model.npz."""
    root = tmp_path_factory.mktemp('finished')
    config = write_config(root, data_dir)
    out = os.path.join(str(root), 'out')
    # (its schedule within the 2 iterations: no warnings on stderr)
    assert train_cli.main(args(config, out, '--iterations', '2',
                               '--set', 'eval.every=[2]',
                               '--set', 'train.lr_shift_at=[1]')) == 0
    return {'snapshot': os.path.join(out, 'snapshot_iter_2.npz'),
            'model': os.path.join(out, 'model.npz')}


def one_error_line(capsys):
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.e2e
@pytest.mark.parametrize('key', ['updater/iteration', 'updater/model:main/'
                                 'extractor/conv1_1/W'])
def test_resume_from_a_snapshot_that_would_run_code(tmp_path, data_dir,
                                                    finished_run, capsys,
                                                    key):
    marker = tmp_path / 'ran'
    evil = hostile_npz(tmp_path / 'snapshot_iter_10.npz', marker,
                       npz_arrays(finished_run['snapshot']), key=key)
    assert_payload_is_live(evil, marker, key=key)
    config = write_config(tmp_path, data_dir)
    out = os.path.join(str(tmp_path), 'out')
    assert train_cli.main(args(config, out, '--resume', evil)) == 2
    line = one_error_line(capsys)
    assert_refused(line, evil, marker, key=key)
    assert not os.path.exists(os.path.join(out, 'model.npz'))


@pytest.mark.e2e
def test_resume_from_a_snapshot_of_another_config(tmp_path, data_dir,
                                                  finished_run, capsys):
    config = write_config(tmp_path, data_dir)
    out = os.path.join(str(tmp_path), 'out')
    argv = args(config, out, '--resume', finished_run['snapshot'],
                '--set', 'model.fc_size=32')
    assert train_cli.main(argv) == 2
    line = one_error_line(capsys)
    assert finished_run['snapshot'] in line and '/faster_rcnn/head/' in line
    assert 'has shape' in line and 'trainer snapshot' in line


@pytest.mark.e2e
def test_resume_from_a_model_file(tmp_path, data_dir, finished_run, capsys):
    config = write_config(tmp_path, data_dir)
    argv = args(config, str(tmp_path), '--resume', finished_run['model'])
    assert train_cli.main(argv) == 2
    line = one_error_line(capsys)
    assert finished_run['model'] in line and 'is a model file' in line
    assert 'model.init_from=' in line


def test_pretrained_weights_that_would_run_code(tmp_path, data_dir,
                                                capsys):
    marker = tmp_path / 'ran'
    evil = hostile_npz(tmp_path / 'vgg16.npz', marker, key='features.0.weight')
    config = write_config(tmp_path, data_dir)
    argv = args(config, str(tmp_path), '--set', 'model.pretrained=' + evil)
    assert train_cli.main(argv) == 2
    assert_refused(one_error_line(capsys), evil, marker,
                   key='features.0.weight')


@pytest.mark.parametrize('command', [
    [sys.executable, os.path.join(ROOT, 'train_chainer.py')],
    [os.path.join(os.path.dirname(sys.executable), 'fasterrcnn-train')]])
def test_the_script_and_the_installed_command(command):
    # train_chainer.py is a thin wrapper of the installed command (one
    # process each: a cold import of chainer is most of a second).
    done = subprocess.run(command + ['--no-progress'], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        '--config is required for a new run (see configs/); to continue the '
        'run in a folder: --out DIR --resume auto')


@pytest.mark.e2e
def test_init_from_a_model_file(tmp_path, data_dir, finished_run, capsys):
    config = write_config(tmp_path, data_dir)
    out = os.path.join(str(tmp_path), 'out')
    argv = args(config, out, '--iterations', '1', '--set',
                'eval.every=[1]', '--set',
                'model.init_from=' + finished_run['model'])
    trained, _ = params(finished_run['model'])
    monkey = {}

    build = builder.build_model

    def spy(*a, **k):
        model = build(*a, **k)
        monkey.update({n: p.array.copy() for n, p in model.namedparams()})
        return model
    builder.build_model = spy
    try:
        assert train_cli.main(argv) == 0
    finally:
        builder.build_model = build
    capsys.readouterr()     # (the schedule warnings of a 1-iteration run)
    for name, value in trained.items():
        numpy.testing.assert_array_equal(monkey[name], value, name)
    # Another architecture: one line naming the parameter.
    argv = args(config, out + '2', '--set', 'model.fc_size=32', '--set',
                'model.init_from=' + finished_run['model'])
    assert train_cli.main(argv) == 2
    line = one_error_line(capsys)
    assert 'model.init_from' in line and 'head/' in line and 'shape' in line


@pytest.mark.e2e
def test_minibatches_train_and_evaluate(tmp_path, data_dir, capsys):
    config = write_config(tmp_path, data_dir)
    out = os.path.join(str(tmp_path), 'batched')
    assert train_cli.main(args(config, out, '--set', 'train.batch_size=2',
                               '--set', 'eval.batch_size=2')) == 0
    import json
    with open(os.path.join(out, 'log')) as f:
        log = json.load(f)
    assert [entry['iteration'] for entry in log] == [2, 4, 6]
    # Six updates of two images: three epochs of the four-image set.
    assert log[-1]['epoch'] == 3
    assert all(numpy.isfinite(entry['main/loss']) for entry in log)
    assert 0 <= log[-1]['validation/main/map'] <= 1
