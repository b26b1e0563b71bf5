import pytest

from fasterrcnn.safe_npz import load_npz
from fasterrcnn.training import (AtomicSnapshot, LearningRateShift,
                                 shifted_value)
from tests.training.toy import make_trainer


def test_shifted_value():
    assert shifted_value(0, 1.0, 0.1, [3, 6]) == 1.0
    assert shifted_value(2, 1.0, 0.1, [3, 6]) == 1.0
    assert shifted_value(3, 1.0, 0.1, [3, 6]) == pytest.approx(0.1)
    assert shifted_value(5, 1.0, 0.1, [6, 3]) == pytest.approx(0.1)
    assert shifted_value(6, 1.0, 0.1, [3, 6]) == pytest.approx(0.01)
    assert shifted_value(10 ** 6, 2.0, 0.5, []) == 2.0


# lr of the update number 1, 2, ..., 8 with shifts after updates 3 and 6
EXPECTED = [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01]


def lr_shift():
    return LearningRateShift([3, 6], factor=0.1,
                             multipliers={'/fc/b': 2.0})


def test_lr_before_and_after_shifts(tmp_path):
    trainer, model = make_trainer(tmp_path, 8, seed=0, lr=1.0,
                                  extensions=[lr_shift()])
    trainer.run()
    assert [s['lr'] for s in model.seen] == pytest.approx(EXPECTED)
    # the bias keeps twice the learning rate across the shifts
    assert [s['bias_lr'] for s in model.seen] == pytest.approx(
        [2 * lr for lr in EXPECTED])
    # the weight follows the optimizer
    assert model.fc.W.update_rule.hyperparam.lr == pytest.approx(0.01)


def test_lr_after_resume(tmp_path):
    trainer, straight = make_trainer(
        tmp_path / 'a', 8, seed=0, lr=1.0,
        extensions=[lr_shift(), AtomicSnapshot(trigger=(4, 'iteration'))])
    trainer.run()

    trainer, resumed = make_trainer(
        tmp_path / 'b', 8, seed=0, lr=1.0,
        extensions=[lr_shift(), AtomicSnapshot(trigger=(4, 'iteration'))])
    load_npz(str(tmp_path / 'a' / 'snapshot_iter_4.npz'), trainer)
    trainer.run()
    assert [s['lr'] for s in resumed.seen] == pytest.approx(EXPECTED[4:])
    assert [s['bias_lr'] for s in resumed.seen] == pytest.approx(
        [2 * lr for lr in EXPECTED[4:]])
    assert [s['lr'] for s in resumed.seen] == \
        [s['lr'] for s in straight.seen[4:]]


def test_explicit_init_and_callable_multipliers(tmp_path):
    shift = LearningRateShift(
        [2], factor=0.5, init=0.4,
        multipliers=lambda name, param: 3.0 if name.endswith('/b') else None)
    trainer, model = make_trainer(tmp_path, 3, seed=0, lr=1.0,
                                  extensions=[shift])
    trainer.run()
    assert [s['lr'] for s in model.seen] == pytest.approx([0.4, 0.4, 0.2])
    assert [s['bias_lr'] for s in model.seen] == pytest.approx(
        [1.2, 1.2, 0.6])
    assert shift.value_at(100) == pytest.approx(0.2)
