"""Warnings for a schedule that cannot happen within train.iterations."""

from fasterrcnn.config import load_config
from fasterrcnn.training.schedule import schedule_warnings


def warnings(*overrides):
    return schedule_warnings(load_config(None, [
        'train.iterations=500', 'train.snapshot_every=100',
        'train.log_every=20', 'train.lr_shift_at=[400]',
        'eval.every=[250, 500]'] + list(overrides)))


def test_a_schedule_that_fits_says_nothing():
    assert warnings() == []
    assert warnings('eval.every=500', 'train.snapshot_every=500') == []


def test_every_evaluation_past_the_end():
    # The demo's schedule copied into a 500-iteration run.
    (line,) = warnings('eval.every=[1000, 2000, 3000]')
    assert line == (
        'eval.every lists 1000, 2000, 3000 but train.iterations is 500: no '
        'evaluation will run (no mAP, map.png or best.npz); list iterations '
        'up to 500 (e.g. --set eval.every=[500])')
    (line,) = warnings('eval.every=600')
    assert line.startswith('eval.every is 600 but train.iterations is 500: '
                           'no evaluation will run')


def test_some_evaluations_past_the_end():
    (line,) = warnings('eval.every=[250, 1000]')
    assert line == ('eval.every lists 1000 past train.iterations 500: those '
                    'evaluations will not run; list iterations up to 500')


def test_lr_shift_past_the_end():
    (line,) = warnings('train.lr_shift_at=[2400]', 'train.lr=0.01')
    assert line == (
        'train.lr_shift_at 2400 is not before train.iterations 500: the '
        'learning rate will not be shifted there (it stays 0.01 throughout); '
        'list iterations below 500')
    (line,) = warnings('train.lr_shift_at=[300, 500, 900]')
    assert line.startswith('train.lr_shift_at 500, 900 are not before')
    assert 'throughout' not in line


def test_lr_shift_at_the_end_counts_when_it_reloads_the_best():
    assert warnings('train.lr_shift_at=[500]',
                    'train.lr_shift_reload_best=true') == []


def test_snapshot_and_log_intervals_past_the_end():
    snapshot, log = warnings('train.snapshot_every=1000',
                             'train.log_every=600')
    assert snapshot.startswith(
        'train.snapshot_every is 1000 but train.iterations is 500: the only '
        'snapshot will be the one of the last iteration')
    assert snapshot.endswith('set train.snapshot_every below 500')
    assert log.startswith('train.log_every is 600 but train.iterations is '
                          '500: no log line')
