"""Ctrl-C (and a full disk) anywhere in the commands: one line, no
traceback, nothing left looking complete that is not (fasterrcnn/atomic.py,
cli/common.py's run_command, cli/train.py, cli/predict.py)."""

import errno
import gc
import os
import signal
import subprocess
import sys
import time

import numpy
import numpy.lib.format
import pytest

from fasterrcnn.cli import evaluate as evaluate_cli
from fasterrcnn.cli import predict as predict_cli
from fasterrcnn.cli import train as train_cli
from fasterrcnn.data.shapes import LABEL_NAMES
from fasterrcnn.safe_npz import check_npz
from fasterrcnn.training.snapshot import list_snapshots
from fasterrcnn.weights.model_io import save_model
from tests.support.dummy_model import tiny_model
from tests.support.tiny_run import ROOT, args, write_config


@pytest.fixture
def unraisable(monkeypatch):
    """What Python would print as 'Exception ignored in ...'."""
    seen = []
    monkeypatch.setattr(sys, 'unraisablehook', seen.append)
    yield seen
    gc.collect()


def _fail_in_savez(monkeypatch, error, after):
    """Makes numpy's savez raise ``error`` inside its zip archive, at the
    tenth array it writes once the file ``after`` exists."""
    write = numpy.lib.format.write_array
    calls = []

    def failing(*a, **k):
        if os.path.exists(after):
            calls.append(1)
            if len(calls) == 10:
                # A new instance: one kept by the test keeps the frames.
                raise type(error)(*error.args)
        return write(*a, **k)
    monkeypatch.setattr(numpy.lib.format, 'write_array', failing)


def _no_partial_files(out):
    names = os.listdir(out)
    assert not [n for n in names if n.endswith('.tmp')], names
    for _, path in list_snapshots(out):
        check_npz(path)       # every snapshot there is a complete archive


@pytest.mark.parametrize('error, status, words', [
    (KeyboardInterrupt(), 130, 'stopped at once'),
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), 3,
     'No space left on device')])
def test_stopped_inside_a_snapshot(tmp_path, data_dir, capsys, monkeypatch,
                                   unraisable, error, status, words):
    # The second Ctrl-C (or a full disk) while the snapshot of iteration 4
    # is half written: no traceback from the archive left open, and no
    # snapshot 4 that looks complete.
    config = write_config(tmp_path, data_dir)
    out = str(tmp_path / 'out')
    _fail_in_savez(monkeypatch, error,
                   os.path.join(out, 'snapshot_iter_2.npz'))
    assert train_cli.main(args(config, out)) == status
    gc.collect()
    err = [line for line in capsys.readouterr().err.splitlines()
           if line.strip() and not line.startswith('warning:')]
    assert len(err) == 1 and words in err[0], err
    assert unraisable == []
    assert not os.path.exists(os.path.join(out, 'snapshot_iter_4.npz'))
    assert os.path.exists(os.path.join(out, 'snapshot_iter_2.npz'))
    _no_partial_files(out)


def test_ctrl_c_at_start_up_is_one_line(tmp_path, data_dir, capsys,
                                        monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(train_cli, 'build_trainer', interrupted)
    config = write_config(tmp_path, data_dir)
    assert train_cli.main(args(config, str(tmp_path / 'out'))) == 130
    assert capsys.readouterr().err.strip() == \
        'fasterrcnn-train: interrupted'


@pytest.fixture(scope='module')
def model_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('model') / 'model.npz')
    save_model(tiny_model(), path, LABEL_NAMES)
    return path


def test_ctrl_c_in_evaluation_is_one_line(model_file, data_dir, capsys,
                                          monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(evaluate_cli, 'evaluate', interrupted)
    assert evaluate_cli.main(['--model', model_file, '--data', data_dir,
                              '--no-progress']) == 130
    assert capsys.readouterr().err.strip() == 'fasterrcnn-eval: interrupted'


def test_interrupted_predict_leaves_pairs(model_file, data_dir, tmp_path,
                                          capsys, monkeypatch):
    images = sorted(os.path.join(data_dir, 'JPEGImages', name) for name in
                    os.listdir(os.path.join(data_dir, 'JPEGImages')))
    write = predict_cli.write_json
    calls = []

    def json_then_ctrl_c(*a, **k):
        calls.append(1)
        if len(calls) == 3:     # the third image's JSON: its PNG is written
            raise KeyboardInterrupt
        return write(*a, **k)
    monkeypatch.setattr(predict_cli, 'write_json', json_then_ctrl_c)
    out = str(tmp_path / 'pred')
    assert predict_cli.main(images + ['--model', model_file, '--out', out,
                                      '--no-progress']) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        'fasterrcnn-predict: interrupted'
    stems = {os.path.splitext(n)[0] for n in os.listdir(out)}
    assert len(stems) == 2
    for stem in stems:
        assert sorted(os.listdir(out)).count(stem + '.json') == 1
        assert os.path.isfile(os.path.join(out, stem + '.png')), stem


@pytest.mark.e2e
def test_ctrl_c_twice_in_a_real_run(tmp_path, data_dir):
    # Two real SIGINTs 0.15 s apart, wherever they land: one line each, no
    # traceback, every snapshot there complete.
    config = write_config(tmp_path, data_dir)
    out = str(tmp_path / 'out')
    command = [sys.executable, os.path.join(ROOT, 'train_chainer.py')] + \
        args(config, out, '--iterations', '400', '--set',
             'train.snapshot_every=1', '--set', 'eval.every=[400]',
             '--set', 'train.lr_shift_at=[300]')
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while len(list_snapshots(out)) < 3 and time.time() < deadline and \
            process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    time.sleep(0.15)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert 'Traceback' not in err and 'Exception ignored' not in err, err
    _no_partial_files(out)
