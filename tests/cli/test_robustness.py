"""Bad data, interruptions and faults, end to end through fasterrcnn-train and
fasterrcnn-eval on the tiny config: each ends in one line, a known exit
status, and a run that --resume auto finishes with the weights of a run that
met nothing."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import chainer
import numpy
import pytest

from fasterrcnn.cli import evaluate as eval_cli
from fasterrcnn.cli import train as train_cli
from fasterrcnn.data.bad_examples import scan
from fasterrcnn.data.voc import VOCBboxDataset
from fasterrcnn.links.train_chain import FasterRCNNTrainChain
from fasterrcnn.training import builder
from fasterrcnn.training.iterator import SeededSerialIterator
from fasterrcnn.training.snapshot import list_snapshots
from fasterrcnn.weights import model_io
from tests.support.tiny_run import ROOT, args, params, write_config

# Every test here trains the tiny model (or stops it) end to end.
pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def whole(tmp_path_factory, data_dir):
    """The tiny run left alone: its final weights."""
    root = tmp_path_factory.mktemp('whole')
    out = os.path.join(str(root), 'out')
    assert train_cli.main(args(write_config(root, data_dir), out)) == 0
    return params(os.path.join(out, 'model.npz'))[0]


@pytest.fixture
def data(tmp_path, data_dir):
    """A copy of the shapes data for this test to damage."""
    path = str(tmp_path / 'data')
    shutil.copytree(data_dir, path)
    return path


def same_weights(out, expected):
    got, _ = params(os.path.join(out, 'model.npz'))
    assert got.keys() == expected.keys()
    for name in expected:
        numpy.testing.assert_array_equal(got[name], expected[name],
                                         err_msg=name)


def error_lines(capsys):
    captured = capsys.readouterr()
    return captured.out, [line for line in captured.err.splitlines()
                          if line.strip()]


def train_image(data, index=0):
    ids = VOCBboxDataset(data, 'trainval').ids
    return os.path.join(data, 'JPEGImages', ids[index] + '.jpg')


def train_annotation(data, index=0):
    ids = VOCBboxDataset(data, 'trainval').ids
    return os.path.join(data, 'Annotations', ids[index] + '.xml')


# -- bad examples -----------------------------------------------------------

def test_bad_annotation_stops_before_training(tmp_path, data, capsys):
    with open(train_annotation(data), 'w') as f:
        f.write('<annotation><object>')
    out = str(tmp_path / 'out')
    assert train_cli.main(args(write_config(tmp_path, data), out)) == 2
    _, err = error_lines(capsys)
    assert len(err) == 1, err
    assert train_annotation(data) in err[0]
    assert 'not well-formed XML' in err[0]
    assert 'data.bad_examples=skip' in err[0]
    assert list_snapshots(out) == []


def test_bad_examples_skipped_and_listed(tmp_path, data, capsys):
    with open(train_annotation(data), 'w') as f:
        f.write('garbage')
    os.remove(train_image(data, 1))
    out = str(tmp_path / 'out')
    argv = args(write_config(tmp_path, data), out, '--set',
                'data.bad_examples=skip')
    assert train_cli.main(argv) == 0
    stdout, err = error_lines(capsys)
    listed = os.path.join(out, 'bad_examples.txt')
    assert 'skipped 2 bad examples (see {})'.format(listed) in stdout
    assert sum('warning: bad example' in line for line in err) == 1
    with open(listed) as f:
        names = [line.split('\t')[0] for line in f.read().splitlines()]
    ids = VOCBboxDataset(data, 'trainval').ids
    assert sorted(names) == sorted('trainval/' + i for i in ids[:2])
    assert os.path.isfile(os.path.join(out, 'model.npz'))


def truncate(path):
    """Cut the last 300 bytes of a file (a JPEG keeps its header); returns
    the bytes it had."""
    with open(path, 'rb') as f:
        good = f.read()
    with open(path, 'wb') as f:
        f.write(good[:len(good) - 300])
    return good


def read_at(iteration, n=4, seed=0):
    """The training example read at ``iteration`` (1-based) of the tiny
    run: its iterator's first epoch, one image per batch."""
    iterator = SeededSerialIterator(list(range(n)), 1, seed=seed)
    for _ in range(iteration):
        batch = iterator.next()
    return batch[0]


def test_truncated_image_stops_with_a_snapshot_and_resumes_exactly(
        tmp_path, data, whole, capsys):
    # Met at iteration 3: the snapshot holds iteration 2.
    image = train_image(data, read_at(3))
    good = truncate(image)
    assert scan(VOCBboxDataset(data, 'trainval')) == []  # header intact
    config = write_config(tmp_path, data)
    out = str(tmp_path / 'out')
    assert train_cli.main(args(config, out)) == 2
    _, err = error_lines(capsys)
    assert len(err) == 1, err
    assert image in err[0] and '--resume auto' in err[0]
    snapshot = os.path.join(out, 'snapshot_iter_2.npz')
    assert 'stopped at iteration 2 and wrote {}'.format(snapshot) in err[0]
    assert os.path.isfile(snapshot)
    # The file fixed, the run goes on from the last complete iteration.
    with open(image, 'wb') as f:
        f.write(good)
    assert train_cli.main(args(config, out, '--resume', 'auto')) == 0
    same_weights(out, whole)


def test_truncated_image_met_first_stops_before_any_update(
        tmp_path, data, capsys):
    image = train_image(data, read_at(1))
    truncate(image)
    out = str(tmp_path / 'out')
    assert train_cli.main(args(write_config(tmp_path, data), out)) == 2
    _, err = error_lines(capsys)
    assert len(err) == 1 and image in err[0]
    assert 'stopped before its first update' in err[0]
    assert list_snapshots(out) == []


def test_truncated_image_skipped_when_met(tmp_path, data, capsys):
    truncate(train_image(data, read_at(2)))
    out = str(tmp_path / 'out')
    argv = args(write_config(tmp_path, data), out, '--set',
                'data.bad_examples=skip')
    assert train_cli.main(argv) == 0
    stdout, _ = error_lines(capsys)
    assert 'skipped 1 bad example' in stdout


def test_unusual_examples_train(tmp_path, data):
    # No object, float coordinates, a box crossing the border, a
    # difficult-only image: none of them is bad.
    texts = [
        '<annotation><size><width>80</width><height>64</height></size>'
        '</annotation>',
        '<annotation><object><name>circle</name><bndbox><xmin>3.5</xmin>'
        '<ymin>4.25</ymin><xmax>40.5</xmax><ymax>30.75</ymax></bndbox>'
        '</object></annotation>',
        '<annotation><object><name>square</name><bndbox><xmin>50</xmin>'
        '<ymin>30</ymin><xmax>95</xmax><ymax>70</ymax></bndbox></object>'
        '</annotation>',
        '<annotation><object><name>triangle</name><difficult>1</difficult>'
        '<bndbox><xmin>5</xmin><ymin>5</ymin><xmax>30</xmax><ymax>30</ymax>'
        '</bndbox></object></annotation>',
    ]
    for index, text in enumerate(texts):
        with open(train_annotation(data, index), 'w') as f:
            f.write(text)
    out = str(tmp_path / 'out')
    assert train_cli.main(args(write_config(tmp_path, data), out)) == 0
    assert not os.path.exists(os.path.join(out, 'bad_examples.txt'))
    with open(os.path.join(out, 'log')) as f:
        assert 'NaN' not in f.read()


# -- faults -----------------------------------------------------------------

def test_nan_loss_stops_with_status_3_and_no_bad_snapshot(
        tmp_path, data_dir, whole, capsys, monkeypatch):
    forward = FasterRCNNTrainChain.forward
    calls = []

    def poisoned(self, *a, **k):
        loss = forward(self, *a, **k)
        calls.append(1)
        if len(calls) == 5:
            loss = loss * numpy.float32('nan')
            chainer.reporter.report({'loss': loss}, self)
        return loss

    monkeypatch.setattr(FasterRCNNTrainChain, 'forward', poisoned)
    config = write_config(tmp_path, data_dir)
    out = str(tmp_path / 'out')
    assert train_cli.main(args(config, out)) == 3
    _, err = error_lines(capsys)
    assert len(err) == 1, err
    assert 'iteration 5: the loss is nan' in err[0]
    assert 'main/loss=nan' in err[0]
    assert 'snapshot_iter_4.npz' in err[0]
    assert [n for n, _ in list_snapshots(out)] == [2, 4]
    monkeypatch.undo()
    assert train_cli.main(args(config, out, '--resume', 'auto')) == 0
    same_weights(out, whole)


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_signal_writes_a_snapshot_and_resume_is_exact(
        tmp_path, data_dir, whole, capsys, monkeypatch, signum):
    build = builder.build_trainer

    def with_signal(*a, **k):
        trainer, model, names = build(*a, **k)

        @chainer.training.make_extension(trigger=(3, 'iteration'))
        def send(trainer):
            # To the main thread: sent to the process, the signal may land
            # on a reading thread, and the main thread then sees it only
            # after the iteration's stop check (seen once under load).
            signal.pthread_kill(threading.main_thread().ident, signum)
        trainer.extend(send)
        return trainer, model, names

    monkeypatch.setattr(train_cli, 'build_trainer', with_signal)
    config = write_config(tmp_path, data_dir)
    out = str(tmp_path / 'out')
    assert train_cli.main(args(config, out)) == 128 + signum
    stdout, _ = error_lines(capsys)
    snapshot = os.path.join(out, 'snapshot_iter_3.npz')
    assert 'stopped by {} at iteration 3: snapshot {}'.format(
        signal.Signals(signum).name, snapshot) in stdout
    assert os.path.isfile(snapshot)
    assert not os.path.exists(os.path.join(out, 'model.npz'))
    assert signal.getsignal(signum) is signal.default_int_handler or \
        signum != signal.SIGINT
    monkeypatch.undo()
    assert train_cli.main(args(config, out, '--resume', 'auto')) == 0
    same_weights(out, whole)


def test_damaged_snapshots_are_skipped_on_resume(tmp_path, data_dir, whole,
                                                 capsys):
    config = write_config(tmp_path, data_dir)
    out = str(tmp_path / 'out')
    assert train_cli.main(args(config, out, '--set',
                               'train.keep_snapshots=5')) == 0
    os.remove(os.path.join(out, 'model.npz'))
    newest = os.path.join(out, 'snapshot_iter_6.npz')
    with open(newest, 'rb') as f:
        data = f.read()
    with open(newest, 'wb') as f:
        f.write(data[:len(data) // 2])          # cut short
    garbage = os.path.join(out, 'snapshot_iter_8.npz')
    with open(garbage, 'wb') as f:
        f.write(b'\0' * 100)                    # not an archive at all
    capsys.readouterr()
    assert train_cli.main(args(config, out, '--resume', 'auto')) == 0
    stdout, err = error_lines(capsys)
    warnings = [line for line in err if line.startswith('warning:')]
    assert len(warnings) == 2
    assert garbage in warnings[0] and newest in warnings[1]
    assert 'resuming from {}'.format(
        os.path.join(out, 'snapshot_iter_4.npz')) in stdout
    same_weights(out, whole)
    with open(os.path.join(out, 'log')) as f:
        assert '"iteration": 6' in f.read()


def disk_full(*a, **k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_at_a_snapshot_keeps_the_previous_one(
        tmp_path, data_dir, whole, capsys, monkeypatch):
    save = chainer.serializers.save_npz
    calls = []

    def save_then_fill(file, obj, compression=True):
        calls.append(1)
        if len(calls) == 2:
            disk_full()
        save(file, obj, compression)

    monkeypatch.setattr(chainer.serializers, 'save_npz', save_then_fill)
    config = write_config(tmp_path, data_dir)
    out = str(tmp_path / 'out')
    assert train_cli.main(args(config, out)) == 3
    _, err = error_lines(capsys)
    assert len(err) == 1, err
    assert 'No space left on device while writing {}'.format(
        os.path.join(out, 'snapshot_iter_4.npz')) in err[0]
    assert 'the newest snapshot, {}, is intact'.format(
        os.path.join(out, 'snapshot_iter_2.npz')) in err[0]
    assert not [n for n in os.listdir(out) if n.endswith('.tmp')]
    monkeypatch.undo()
    assert train_cli.main(args(config, out, '--resume', 'auto')) == 0
    same_weights(out, whole)


@pytest.mark.parametrize('where', ['model', 'log'])
def test_full_disk_at_the_model_or_the_log(tmp_path, data_dir, capsys,
                                           monkeypatch, where):
    if where == 'model':
        savez = numpy.savez_compressed

        def full_for_the_model(file, **arrays):
            if model_io.META_KEY in arrays:
                disk_full()
            savez(file, **arrays)
        monkeypatch.setattr(numpy, 'savez_compressed', full_for_the_model)
    else:
        from chainer.training.extensions import log_report
        monkeypatch.setattr(log_report.json, 'dump', disk_full)
    out = str(tmp_path / 'out')
    assert train_cli.main(args(write_config(tmp_path, data_dir), out)) == 3
    _, err = error_lines(capsys)
    assert len(err) == 1, err
    assert err[0].startswith('fasterrcnn-train: error: No space left')
    if where == 'model':
        # The last iteration's evaluation writes best.npz, the first model
        # file of the run, before model.npz.
        assert os.path.join(out, 'best.npz') in err[0]
    assert 'free some space, then --resume auto' in err[0]


@pytest.mark.slow
def test_kill_9_then_resume_auto(tmp_path, data_dir, capsys):
    config = write_config(tmp_path, data_dir)
    settings = ['--iterations', '24', '--set', 'train.snapshot_every=1',
                '--set', 'eval.every=[24]', '--set', 'train.lr_shift_at=[12]']
    expected_out = str(tmp_path / 'whole')
    assert train_cli.main(args(config, expected_out, *settings)) == 0
    expected, _ = params(os.path.join(expected_out, 'model.npz'))

    out = str(tmp_path / 'killed')
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, 'train_chainer.py')] +
        args(config, out, *settings), cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(list_snapshots(out)) < 3 and process.poll() is None and \
            time.time() < deadline:
        time.sleep(0.05)
    process.kill()                      # SIGKILL, wherever it is
    process.wait()
    assert list_snapshots(out), 'the run wrote no snapshot before the kill'
    assert not os.path.exists(os.path.join(out, 'model.npz'))
    assert train_cli.main(args(config, out, '--resume', 'auto',
                               *settings)) == 0
    same_weights(out, expected)


# -- evaluation -------------------------------------------------------------

@pytest.fixture(scope='module')
def model_file(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp('model')
    out = os.path.join(str(root), 'out')
    assert train_cli.main(args(write_config(root, data_dir), out,
                               '--iterations', '2',
                               '--set', 'eval.every=[2]')) == 0
    return os.path.join(out, 'model.npz')


@pytest.mark.parametrize('policy', ['error', 'skip'])
def test_eval_with_a_bad_test_example(tmp_path, data, model_file, capsys,
                                      policy):
    ids = VOCBboxDataset(data, 'test').ids
    annotation = os.path.join(data, 'Annotations', ids[0] + '.xml')
    with open(annotation, 'w') as f:
        f.write('<annotation><object><name>circle</name></object>'
                '</annotation>')
    code = eval_cli.main(['--model', model_file, '--data', data,
                          '--no-progress', '--set',
                          'data.bad_examples={}'.format(policy)])
    stdout, err = error_lines(capsys)
    if policy == 'error':
        assert code == 2
        assert len(err) == 1 and annotation in err[0]
        assert 'has no <bndbox>' in err[0]
    else:
        assert code == 0
        assert 'skipped 1 bad example: test/{}'.format(ids[0]) in stdout
        assert 'mAP' in stdout


# -- bad setups (the rest are in test_train.py and test_evaluate.py) ---------

@pytest.mark.parametrize('setting,fragments', [
    ('data.train_split=nope', ['split file', 'nope.txt', 'splits found']),
    ('train.lr=-1', ['train.lr', 'greater than 0']),
    ('train.iterations=ten', ['train.iterations', 'int']),
    ('data.bad_examples=ignore', ['data.bad_examples', "'error'"]),
])
def test_bad_setups_are_one_line(tmp_path, data_dir, capsys, setting,
                                 fragments):
    out = str(tmp_path / 'out')
    argv = args(write_config(tmp_path, data_dir), out, '--set', setting)
    assert train_cli.main(argv) == 2
    _, err = error_lines(capsys)
    assert len(err) == 1, err
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])
