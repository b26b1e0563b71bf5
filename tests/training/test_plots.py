"""The run's plots: the same after a resume as left alone, with titles and
axis names, and older snapshots still load."""

import os
import types

import chainer
import matplotlib.figure
import numpy
import pytest
from chainer.training import extensions

from fasterrcnn import safe_npz
from fasterrcnn.cli import train as train_cli
from fasterrcnn.training import plots
from fasterrcnn.training.plots import STATE_FORMAT, PlotReport
from tests.support.tiny_run import (Crash, args, crash_at_iteration,
                                    write_config)

# Points every 3 iterations, snapshots every 2: the snapshot of 4 holds
# the values of iteration 4 not yet drawn, and the plot's trigger last saw
# iteration 4 (Chainer's PlotReport drew an extra point at 5 after the
# resume).
SETTINGS = ['--set', 'train.log_every=3', '--set', 'eval.every=[3, 6]']


def _run(monkeypatch, argv, crash_at=None):
    """Runs fasterrcnn-train; returns its trainer's plot extensions."""
    built = []
    crash_at_iteration(monkeypatch, crash_at, built)
    if crash_at is None:
        assert train_cli.main(argv) == 0
    else:
        with pytest.raises(Crash):
            train_cli.main(argv)
    trainer, = built
    return {name: trainer.get_extension(name)
            for name in ('PlotReport', 'PlotReport_1')}


@pytest.mark.e2e
def test_resumed_run_plots_what_the_uninterrupted_run_plots(
        tmp_path, data_dir, monkeypatch):
    config = write_config(tmp_path, data_dir)
    whole = os.path.join(str(tmp_path), 'whole')
    expected = _run(monkeypatch, args(config, whole, *SETTINGS))
    assert [x for x, _ in expected['PlotReport'].points['main/loss']] == \
        [3, 6]
    assert [x for x, _ in expected['PlotReport_1'].points[
        'validation/main/map']] == [3, 6]

    broken = os.path.join(str(tmp_path), 'broken')
    _run(monkeypatch, args(config, broken, *SETTINGS), crash_at=5)
    got = _run(monkeypatch, args(config, broken, '--resume', 'auto',
                                 *SETTINGS))
    for name in expected:
        # Every series, bit for bit (the iteration 4 value, summed before
        # the snapshot, is in the point at 6).
        assert got[name].points == expected[name].points, name
    for png in ('loss.png', 'map.png'):
        assert os.path.getsize(os.path.join(broken, png)) > 0, png

    # The snapshot holds the state as plain arrays.
    entries = safe_npz.check_npz(os.path.join(broken, 'snapshot_iter_4.npz'))
    prefix = 'extensions/PlotReport/'
    assert entries[prefix + 'points/main/loss/x'] == (
        (1,), numpy.dtype(numpy.int64))
    assert entries[prefix + 'points/main/loss/y'][1] == numpy.float64
    assert entries[prefix + 'trigger/previous_iteration'][0] == ()


class _Updater(object):
    epoch = 0
    epoch_detail = previous_epoch_detail = 0.0

    def __init__(self):
        self.iteration = 0


def _fake_trainer(out):
    return types.SimpleNamespace(
        updater=_Updater(), observation={}, out=out,
        is_before_training=False)


def test_titles_and_axis_names(tmp_path, monkeypatch):
    drawn = []
    save = matplotlib.figure.Figure.savefig

    def savefig(fig, *a, **k):
        ax = fig.axes[0]
        drawn.append((ax.get_title(), ax.get_xlabel(), ax.get_ylabel()))
        return save(fig, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, 'savefig', savefig)
    plot = PlotReport(['main/loss'], 'iteration', trigger=(1, 'iteration'),
                      filename='loss.png', title='Training losses',
                      y_label='loss')
    trainer = _fake_trainer(str(tmp_path))
    trainer.updater.iteration = 1
    trainer.observation = {'main/loss': numpy.float32(0.5)}
    plot(trainer)
    assert drawn == [('Training losses', 'iteration', 'loss')]
    assert os.path.isfile(str(tmp_path / 'loss.png'))


def _save_and_load(source, target, path):
    chainer.serializers.save_npz(path, source)
    safe_npz.load_npz(path, target, what='trainer snapshot')


def test_state_round_trip_and_a_snapshot_of_chainers_plot_report(tmp_path):
    keys = ['main/loss', 'main/other']
    trainer = _fake_trainer(str(tmp_path))
    plot = PlotReport(keys, trigger=(2, 'iteration'), filename='p.png')
    for iteration, value in ((1, 0.25), (2, 0.5), (3, 1.0 / 3)):
        trainer.updater.iteration = iteration
        trainer.observation = {'main/loss': numpy.float32(value)}
        plot(trainer)
    copy = PlotReport(keys, trigger=(2, 'iteration'), filename='p.png')
    _save_and_load(plot, copy, str(tmp_path / 'new.npz'))
    assert copy.points == plot.points == {
        'main/loss': [(2, float(numpy.float32(0.375)))], 'main/other': []}
    assert copy._trigger._previous_iteration == 3
    # The pending value of iteration 3 came along.
    assert copy._summary.compute_mean() == plot._summary.compute_mean()

    # Written by Chainer's PlotReport (before this class): its points are
    # read from its JSON, nothing is pending, and the trigger guesses its
    # last call from the iteration resumed at (no point drawn at once).
    old = extensions.PlotReport(keys, trigger=(2, 'iteration'),
                                filename='p.png')
    old._data = {'main/loss': [[2, 0.1 + 0.2]], 'main/other': []}
    legacy = PlotReport(keys, trigger=(2, 'iteration'), filename='p.png')
    _save_and_load(old, legacy, str(tmp_path / 'old.npz'))
    assert legacy.points == {'main/loss': [(2, 0.1 + 0.2)], 'main/other': []}
    assert legacy._summary.compute_mean() == {}
    assert legacy._trigger._previous_iteration == -1
    trainer.updater.iteration = 5
    assert not legacy._trigger(trainer)

    # No entry at all (a snapshot without the extension): empty.
    empty = PlotReport(keys, trigger=(2, 'iteration'), filename='p.png')
    _save_and_load(chainer.Link(), empty, str(tmp_path / 'none.npz'))
    assert empty.points == {'main/loss': [], 'main/other': []}
    assert STATE_FORMAT == 1


def test_pictures_at_most_every_picture_seconds_and_at_the_end(
        tmp_path, monkeypatch):
    # Every trigger adds a point; a picture only when PICTURE_SECONDS have
    # passed since the last one, and the last one when the run ends.
    now = [100.]
    monkeypatch.setattr(plots.time, 'monotonic', lambda: now[0])
    drawn = []
    save = matplotlib.figure.Figure.savefig

    def savefig(fig, *a, **k):
        drawn.append(len(fig.axes[0].lines[0].get_xdata()))
        return save(fig, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, 'savefig', savefig)
    plot = PlotReport(['main/loss'], 'iteration', trigger=(1, 'iteration'),
                      filename='loss.png', picture_seconds=10)
    trainer = _fake_trainer(str(tmp_path))
    for iteration, seconds in ((1, 0), (2, 4), (3, 9), (4, 11), (5, 12)):
        now[0] = 100. + seconds
        trainer.updater.iteration = iteration
        trainer.observation = {'main/loss': numpy.float32(iteration)}
        plot(trainer)
    assert drawn == [1, 4]          # at 0 s and at 11 s
    assert [x for x, _ in plot.points['main/loss']] == [1, 2, 3, 4, 5]
    plot.finalize()
    assert drawn == [1, 4, 5]       # the points since, when the run ends
    plot.finalize()
    assert drawn == [1, 4, 5]       # nothing new: no picture
    assert os.path.isfile(str(tmp_path / 'loss.png'))
    assert os.listdir(str(tmp_path)) == ['loss.png']   # no temporary left


def test_a_last_picture_that_cannot_be_written_is_a_warning(
        tmp_path, capsys):
    # At the end of a run (maybe ended by another error) a full disk or a
    # missing folder must not raise over that error: one line, naming it.
    plot = PlotReport(['main/loss'], 'iteration', trigger=(1, 'iteration'),
                      filename='loss.png', picture_seconds=1e9)
    trainer = _fake_trainer(str(tmp_path))
    for iteration in (1, 2):
        trainer.updater.iteration = iteration
        trainer.observation = {'main/loss': numpy.float32(iteration)}
        plot(trainer)
    os.remove(str(tmp_path / 'loss.png'))
    os.rmdir(str(tmp_path))
    plot.finalize()
    err = capsys.readouterr().err
    assert err.startswith('warning: the plot loss.png was not written: ')
    assert len(err.strip().splitlines()) == 1
