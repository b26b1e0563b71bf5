import os

import chainer
import chainer.links as L
import numpy
import pytest

from fasterrcnn.safe_npz import load_npz
from fasterrcnn.training import snapshot as snapshot_module
from fasterrcnn.training.snapshot import (AtomicSnapshot, NotASnapshotError,
                                          RandomStateHolder,
                                          SnapshotNotFoundError,
                                          list_snapshots, load_newest,
                                          snapshot_candidates, write_snapshot)
from fasterrcnn.weights.model_io import save_model
from tests.support.dummy_model import tiny_model
from tests.training.toy import make_trainer


def link(value):
    return L.Linear(2, 3, initialW=value, initial_bias=value)


def load_weight(path):
    target = link(0.0)
    load_npz(path, target)
    return float(target.W.array[0, 0])


def names(out):
    return sorted(os.listdir(out))


def newest(path, auto=False):
    """The newest snapshot of a folder (or a file as it is)."""
    found = snapshot_candidates(path, auto)
    return found[0] if found else None


def test_write_and_keep_last(tmp_path):
    out = str(tmp_path / 'out')
    for it in (1, 2, 3, 4, 5):
        path = write_snapshot(link(float(it)), out, it, keep=3)
        assert path == os.path.join(out, 'snapshot_iter_{}.npz'.format(it))
    assert names(out) == ['snapshot_iter_3.npz', 'snapshot_iter_4.npz',
                          'snapshot_iter_5.npz']
    assert load_weight(os.path.join(out, 'snapshot_iter_5.npz')) == 5.0
    assert [it for it, _ in list_snapshots(out)] == [3, 4, 5]


def test_keep_orders_by_number_not_name(tmp_path):
    out = str(tmp_path)
    for it in (9, 10, 100, 11):
        write_snapshot(link(float(it)), out, it, keep=None)
    assert [it for it, _ in list_snapshots(out)] == [9, 10, 11, 100]
    assert newest(out).endswith('snapshot_iter_100.npz')
    write_snapshot(link(1.0), out, 101, keep=2)
    assert names(out) == ['snapshot_iter_100.npz', 'snapshot_iter_101.npz']


def test_keep_must_be_positive(tmp_path):
    with pytest.raises(ValueError):
        write_snapshot(link(1.0), str(tmp_path), 1, keep=0)
    with pytest.raises(ValueError):
        AtomicSnapshot(keep=0)


def test_crash_in_save_leaves_previous_snapshot(tmp_path, monkeypatch):
    out = str(tmp_path)
    write_snapshot(link(1.0), out, 1)

    real_save = chainer.serializers.save_npz

    def crashing_save(file, obj, compression=True):
        real_save(file, obj, compression)  # a part of the bytes is out...
        file.flush()
        raise IOError('disk full')  # ...and then the write dies

    monkeypatch.setattr(chainer.serializers, 'save_npz', crashing_save)
    with pytest.raises(IOError, match='disk full'):
        write_snapshot(link(2.0), out, 2)
    monkeypatch.undo()

    assert names(out) == ['snapshot_iter_1.npz']  # no final, no tmp file
    assert newest(out).endswith('snapshot_iter_1.npz')
    assert newest(out, auto=True).endswith('snapshot_iter_1.npz')
    assert load_weight(newest(out)) == 1.0


def test_crash_in_rename_leaves_previous_snapshot(tmp_path, monkeypatch):
    out = str(tmp_path)
    write_snapshot(link(1.0), out, 1)

    def crashing_replace(src, dst):
        raise OSError('killed')

    monkeypatch.setattr(os, 'replace', crashing_replace)
    with pytest.raises(OSError, match='killed'):
        write_snapshot(link(2.0), out, 2)
    monkeypatch.undo()
    assert names(out) == ['snapshot_iter_1.npz']
    assert load_weight(newest(out, auto=True)) == 1.0


def test_crash_does_not_prune(tmp_path, monkeypatch):
    out = str(tmp_path)
    write_snapshot(link(1.0), out, 1, keep=1)
    monkeypatch.setattr(os, 'replace', lambda src, dst: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_snapshot(link(2.0), out, 2, keep=1)
    assert names(out) == ['snapshot_iter_1.npz']


def test_leftover_partial_files_are_ignored(tmp_path):
    out = str(tmp_path)
    write_snapshot(link(1.0), out, 1)
    # what a process killed in the middle of a write leaves behind
    with open(os.path.join(out, '.snapshot_iter_2.npz.77.abcd.tmp'),
              'wb') as f:
        f.write(b'PK\x03\x04 partial')
    with open(os.path.join(out, 'snapshot_iter_3.npz.tmp'), 'wb') as f:
        f.write(b'partial')
    assert newest(out).endswith('snapshot_iter_1.npz')
    assert [it for it, _ in list_snapshots(out)] == [1]


def test_a_damaged_snapshot_is_skipped_with_a_warning(tmp_path):
    out = str(tmp_path)
    write_snapshot(link(1.0), out, 1)
    with open(os.path.join(out, 'snapshot_iter_2.npz'), 'wb') as f:
        f.write(b'garbage')
    warnings, target = [], link(0.0)
    loaded = load_newest(target, snapshot_candidates(out), warnings.append)
    assert loaded.endswith('snapshot_iter_1.npz')
    assert float(target.W.array[0, 0]) == 1.0
    assert len(warnings) == 1 and 'snapshot_iter_2' in warnings[0] and \
        'snapshot_iter_1' in warnings[0]


def test_the_only_snapshot_damaged_is_an_error(tmp_path):
    path = str(tmp_path / 'snapshot_iter_2.npz')
    with open(path, 'wb') as f:
        f.write(b'garbage')
    with pytest.raises(ValueError, match='snapshot_iter_2'):
        load_newest(link(0.0), [path], pytest.fail)


def test_a_model_file_is_not_a_snapshot(tmp_path):
    path = str(tmp_path / 'model.npz')
    save_model(tiny_model(), path)
    with pytest.raises(NotASnapshotError, match='model.init_from'):
        load_newest(link(0.0), [path], pytest.fail)


def test_snapshot_candidates(tmp_path):
    out = tmp_path / 'out'
    assert snapshot_candidates(str(out), auto=True) == []  # no directory
    out.mkdir()
    assert snapshot_candidates(str(out), auto=True) == []  # empty directory
    with pytest.raises(SnapshotNotFoundError, match='no snapshot'):
        snapshot_candidates(str(out))
    with pytest.raises(SnapshotNotFoundError):
        snapshot_candidates(str(tmp_path / 'missing'))
    first = write_snapshot(link(1.0), str(out), 5)
    second = write_snapshot(link(2.0), str(out), 6)
    assert snapshot_candidates(str(out)) == [second, first]
    assert snapshot_candidates(str(out), auto=True) == [second, first]
    assert snapshot_candidates(first) == [first]  # a file as it is
    assert issubclass(SnapshotNotFoundError, FileNotFoundError)


def test_random_state_round_trip(tmp_path):
    rs = numpy.random.RandomState(7)
    rs.uniform(size=10)
    rs.standard_normal()  # leaves a cached Gaussian: has_gauss = 1
    assert rs.get_state()[3] == 1
    path = write_snapshot(RandomStateHolder(rs), str(tmp_path), 1)
    expected = (rs.standard_normal(5), rs.uniform(size=5),
                rs.randint(1000, size=5))

    other = RandomStateHolder(seed=99)
    load_npz(path, other)
    got = (other.random_state.standard_normal(5),
           other.random_state.uniform(size=5),
           other.random_state.randint(1000, size=5))
    for e, g in zip(expected, got):
        numpy.testing.assert_array_equal(e, g)


def test_random_state_holder_args():
    rs = numpy.random.RandomState(0)
    assert RandomStateHolder(rs).random_state is rs
    with pytest.raises(ValueError):
        RandomStateHolder(rs, seed=1)


def test_atomic_snapshot_interval_last_iteration_and_keep(
        tmp_path, monkeypatch):
    trainer, _ = make_trainer(tmp_path, 7, seed=0, extensions=[
        AtomicSnapshot(keep=2, trigger=(3, 'iteration'))])
    written = []
    real_write = snapshot_module.write_snapshot

    def spy(target, out_dir, iteration, **kwargs):
        written.append(iteration)
        return real_write(target, out_dir, iteration, **kwargs)

    monkeypatch.setattr(snapshot_module, 'write_snapshot', spy)
    trainer.run()
    assert written == [3, 6, 7]
    assert names(tmp_path) == ['snapshot_iter_6.npz', 'snapshot_iter_7.npz']


def test_snapshot_holds_random_states(tmp_path):
    trainer, _ = make_trainer(tmp_path, 2, seed=0, extensions=[
        AtomicSnapshot(trigger=(1, 'iteration'))])
    trainer.run()
    with numpy.load(newest(str(tmp_path))) as npz:
        keys = set(npz.files)
    for key in ('key', 'pos', 'has_gauss', 'cached_gaussian'):
        assert 'extensions/noise_random_state/' + key in keys
        assert 'updater/iterator:main/random_state/' + key in keys


def _run_and_resume(tmp_path, total, snapshot_at, batch_size, n):
    """Runs ``total`` iterations straight, and again resumed from the
    snapshot at ``snapshot_at``; returns both models and the resumed
    run's offset into the straight run's records."""
    straight_dir = tmp_path / 'straight'
    trainer, straight = make_trainer(
        straight_dir, total, seed=0, batch_size=batch_size, n=n,
        extensions=[AtomicSnapshot(keep=None,
                                   trigger=(snapshot_at, 'iteration'))])
    trainer.run()
    path = os.path.join(str(straight_dir),
                        'snapshot_iter_{}.npz'.format(snapshot_at))

    # Different seeds: everything must come from the snapshot.
    trainer, resumed = make_trainer(
        tmp_path / 'resumed', total, seed=42, batch_size=batch_size, n=n,
        extensions=[AtomicSnapshot(keep=None,
                                   trigger=(snapshot_at, 'iteration'))])
    load_npz(newest(path), trainer)
    assert trainer.updater.iteration == snapshot_at
    trainer.run()
    return straight, resumed


def test_resume_is_bit_exact_across_epoch_boundaries(tmp_path):
    # 5 examples, batches of 2: epochs end inside iterations 3, 5, 8, 10.
    straight, resumed = _run_and_resume(tmp_path, total=11, snapshot_at=4,
                                        batch_size=2, n=5)
    tail = straight.seen[4:]
    assert len(tail) == len(resumed.seen) == 7
    for a, b in zip(tail, resumed.seen):
        assert a['index'] == b['index']
        numpy.testing.assert_array_equal(a['noise'], b['noise'])
    assert straight.fc.W.array.tobytes() == resumed.fc.W.array.tobytes()
    assert straight.fc.b.array.tobytes() == resumed.fc.b.array.tobytes()
    # the last snapshots of both runs hold the same state
    assert names(tmp_path / 'resumed') == ['snapshot_iter_11.npz',
                                           'snapshot_iter_8.npz']
    with numpy.load(newest(str(tmp_path / 'straight'))) as a, \
            numpy.load(newest(str(tmp_path / 'resumed'))) as b:
        assert set(a.files) == set(b.files)
        for key in a.files:
            if key != '_snapshot_elapsed_time':
                numpy.testing.assert_array_equal(a[key], b[key], key)
