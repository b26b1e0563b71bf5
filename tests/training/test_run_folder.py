"""An output folder is one run (fasterrcnn/training/run_folder.py through
fasterrcnn-train): ends, re-runs, resume from the record alone, paths
relative to the config file, the closing hint. Each case here mixed, lost
or misreported work before the run folder was recorded."""

import os
import shutil
import subprocess
import sys

import pytest

from fasterrcnn.cli import train as train_cli
from fasterrcnn.config import load_config
from tests.support.tiny_run import ROOT, args, params, write_config

pytestmark = pytest.mark.e2e


def _state(out):
    """Every file of a folder with its size and modification time."""
    return {name: (os.path.getsize(os.path.join(out, name)),
                   os.stat(os.path.join(out, name)).st_mtime_ns)
            for name in sorted(os.listdir(out))}


def _read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def run4(tmp_path, data_dir):
    """A finished 4-iteration tiny run, snapshots at 2 and 4."""
    config = write_config(tmp_path, data_dir)
    out = str(tmp_path / 'run')
    assert train_cli.main(args(config, out, '--iterations', '4', '--set',
                               'eval.every=[4]', '--set',
                               'train.lr_shift_at=[3]')) == 0
    return config, out


def test_snapshot_past_the_new_end_is_refused_and_nothing_written(
        run4, capsys):
    config, out = run4
    capsys.readouterr()
    before = _state(out)
    os.remove(os.path.join(out, 'model.npz'))
    before.pop('model.npz')
    status = train_cli.main(['--out', out, '--no-progress', '--resume',
                             os.path.join(out, 'snapshot_iter_4.npz'),
                             '--iterations', '3'])
    captured = capsys.readouterr()
    assert status == 2
    errors = _lines(captured.err)
    assert len(errors) == 1, errors
    assert 'snapshot_iter_4.npz is at iteration 4, past the end of the run ' \
        '(train.iterations 3)' in errors[0]
    assert 'nothing was written' in errors[0]
    assert 'model written' not in captured.out
    assert _state(out) == before        # no snapshot 5, 6, no model.npz


def test_a_finished_run_resumed_has_nothing_to_do(run4, capsys):
    _, out = run4
    capsys.readouterr()
    before = _state(out)
    assert train_cli.main(['--out', out, '--no-progress', '--resume',
                           'auto']) == 0
    captured = capsys.readouterr()
    assert 'finished at iteration 4: nothing to train' in captured.out
    assert 'model is at {}'.format(os.path.join(out, 'model.npz')) in \
        captured.out
    assert 'model written' not in captured.out
    assert _state(out) == before
    # Stopped between its last snapshot and model.npz: written now.
    os.remove(os.path.join(out, 'model.npz'))
    assert train_cli.main(['--out', out, '--no-progress', '--resume',
                           'auto']) == 0
    assert 'model written to' in capsys.readouterr().out
    assert os.path.isfile(os.path.join(out, 'model.npz'))


def test_a_new_run_into_a_folder_with_another_is_refused(run4, capsys):
    config, out = run4
    capsys.readouterr()
    before = _state(out)
    assert train_cli.main(args(config, out, '--iterations', '2')) == 2
    errors = _lines(capsys.readouterr().err)
    assert len(errors) == 1, errors
    assert 'already holds a run' in errors[0]
    assert '--resume auto' in errors[0] and '--fresh' in errors[0]
    assert _state(out) == before
    # --fresh: the old run's files go first, a file of the user's stays.
    with open(os.path.join(out, 'notes.txt'), 'w') as f:
        f.write('mine\n')
    assert train_cli.main(args(config, out, '--iterations', '2', '--fresh',
                               '--set', 'eval.every=[2]', '--set',
                               'train.lr_shift_at=[1]')) == 0
    names = set(os.listdir(out))
    assert 'snapshot_iter_4.npz' not in names
    assert {'notes.txt', 'snapshot_iter_2.npz', 'model.npz'} <= names
    assert load_config(os.path.join(out, 'config.yaml')) \
        .train.iterations == 2
    # Asked to start over and to continue at once: refused.
    assert train_cli.main(['--out', out, '--resume', 'auto',
                           '--fresh']) == 2


def test_resume_auto_alone_continues_the_recorded_run(tmp_path, data_dir,
                                                      capsys):
    config = write_config(tmp_path, data_dir)
    whole = str(tmp_path / 'whole')
    settings = ['--iterations', '6', '--set', 'train.log_every=1']
    assert train_cli.main(args(config, whole, *settings)) == 0
    expected, _ = params(os.path.join(whole, 'model.npz'))

    out = str(tmp_path / 'run')
    assert train_cli.main(args(config, out, *settings)) == 0
    for name in ('model.npz', 'snapshot_iter_6.npz', 'best.npz'):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    recorded = _read(os.path.join(out, 'config.yaml'))
    capsys.readouterr()
    # No --config, no --set: the run as recorded (6 iterations, not the
    # defaults' 70000, the tiny model, the log every iteration).
    assert train_cli.main(['--out', out, '--no-progress', '--resume',
                           'auto']) == 0
    captured = capsys.readouterr()
    assert 'resuming from {}'.format(os.path.join(
        out, 'snapshot_iter_4.npz')) in captured.out
    assert 'changed at resume' not in captured.out
    got, _ = params(os.path.join(out, 'model.npz'))
    for name, value in expected.items():
        assert (got[name] == value).all(), name
    assert _read(os.path.join(out, 'config.yaml')) == recorded


def test_resume_may_extend_but_not_change_the_model(tmp_path, data_dir,
                                                    capsys):
    config = write_config(tmp_path, data_dir)
    out = str(tmp_path / 'run')
    assert train_cli.main(args(config, out, '--iterations', '2', '--set',
                               'eval.every=[2]', '--set',
                               'train.lr_shift_at=[1]')) == 0
    capsys.readouterr()
    before = _state(out)
    assert train_cli.main(['--out', out, '--resume', 'auto', '--set',
                           'model.fc_size=32', '--set', 'train.lr=0.5']) == 2
    errors = _lines(capsys.readouterr().err)
    assert len(errors) == 1, errors
    assert 'model.fc_size: 16 in the run, 32 given' in errors[0]
    assert 'train.lr: 0.01 in the run, 0.5 given' in errors[0]
    assert _state(out) == before
    # Extending: applied, printed, recorded with the iteration.
    assert train_cli.main(['--out', out, '--no-progress', '--resume', 'auto',
                           '--iterations', '3']) == 0
    captured = capsys.readouterr()
    assert 'changed at resume: train.iterations: 2 -> 3' in captured.out
    text = _read(os.path.join(out, 'config.yaml'))
    assert '# changed at resume: iteration 2 (' in text
    assert text.rstrip().endswith('train.iterations: 2 -> 3')
    assert load_config(os.path.join(out, 'config.yaml')) \
        .train.iterations == 3
    assert os.path.isfile(os.path.join(out, 'snapshot_iter_3.npz'))


def test_a_relative_path_in_a_config_file_is_relative_to_it(
        tmp_path, data_dir, monkeypatch, capsys):
    # A config beside its data, run from elsewhere.
    project = tmp_path / 'project'
    project.mkdir()
    shutil.copytree(data_dir, str(project / 'mydata'))
    config = project / 'my.yaml'
    config.write_text('data:\n  dir: mydata\n')
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = str(tmp_path / 'run')
    assert train_cli.main(args(str(config), out, '--iterations', '1',
                               '--set', 'eval.every=[1]', '--set',
                               'train.lr_shift_at=[]')) == 0
    recorded = load_config(os.path.join(out, 'config.yaml'))
    assert recorded.data.dir == str(project / 'mydata')
    # On the command line: relative to the working directory.
    monkeypatch.chdir(project)
    assert load_config(None, ['data.dir=mydata']).data.dir == \
        str(project / 'mydata')


def test_a_missing_data_folder_is_named_for_its_data_set(tmp_path, capsys):
    config = tmp_path / 'own.yaml'
    config.write_text('data:\n  dir: mydata\n  label_names: [cat, dog]\n'
                      'model:\n  n_fg_class: 2\n')
    assert train_cli.main(['--config', str(config), '--out',
                           str(tmp_path / 'out'), '--no-progress']) == 2
    line = _lines(capsys.readouterr().err)[0]
    assert str(tmp_path / 'mydata') in line
    assert 'VOC layout' in line and 'VOC2007' not in line
    config.write_text('data:\n  dir: mydata\n  format: coco\n'
                      '  train_annotations: a.json\n'
                      '  test_annotations: b.json\n')
    assert train_cli.main(['--config', str(config), '--out',
                           str(tmp_path / 'out'), '--no-progress']) == 2
    line = _lines(capsys.readouterr().err)[0]
    assert 'COCO' in line and 'VOC2007' not in line


def test_the_closing_hint_is_the_command_as_run(tmp_path, data_dir):
    config = write_config(tmp_path, data_dir)
    out = str(tmp_path / 'run')
    command = [sys.executable, os.path.join(ROOT, 'train_chainer.py')] + \
        args(config, out, '--iterations', '2', '--set', 'eval.every=[2]',
             '--set', 'train.lr_shift_at=[1]')
    done = subprocess.run(command, cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    hint = last.split('evaluate it with: ', 1)[1].split(';')[0]
    # The interpreter and the script of this run, not "python eval.py".
    assert hint.startswith('{} {} --model '.format(
        sys.executable, os.path.join(ROOT, 'eval.py'))), last
    assert 'the best of the evaluations is {}'.format(
        os.path.join(out, 'best.npz')) in last
    # What it says runs as it is.
    ran = subprocess.run(hint.split() + ['--no-progress', '--n-images', '1'],
                         cwd=str(tmp_path), capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
