"""GuardedUpdater, StopOnSignal and signals_stop (fasterrcnn/training/guard.py)
and the snapshot's refusal of non-finite weights, on a one-weight model."""

import os
import signal

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest
from chainer import training

from fasterrcnn.data.bad_examples import BadExampleError
from fasterrcnn.training.guard import (GuardedUpdater, NonFiniteLossError,
                                       StopOnSignal, signals_stop)
from fasterrcnn.training.iterator import SeededSerialIterator
from fasterrcnn.training.snapshot import (AtomicSnapshot,
                                          NonFiniteWeightsError,
                                          list_snapshots)


class Model(chainer.Chain):
    """loss = mean(W x); reports it; NaN at the iterations in ``nan_at``."""

    def __init__(self, nan_at=()):
        super(Model, self).__init__()
        with self.init_scope():
            self.fc = L.Linear(1, 1, initialW=1.0)
        self.nan_at = nan_at
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        loss = F.mean(self.fc(x))
        if self.calls in self.nan_at:
            loss = loss * numpy.float32('nan')
        chainer.reporter.report({'loss': loss, 'part': loss * 2}, self)
        return loss


class Data(chainer.dataset.DatasetMixin):
    """Eight examples; reading one of ``bad`` raises BadExampleError."""

    def __init__(self, bad=()):
        self.bad = set(bad)

    def __len__(self):
        return 8

    def get_example(self, i):
        if i in self.bad:
            raise BadExampleError('example {} is bad'.format(i))
        return numpy.full((1,), i, numpy.float32)


def make_trainer(out, model, data, iterations=6):
    iterator = SeededSerialIterator(data, 2, seed=0)
    optimizer = chainer.optimizers.SGD(lr=0.1)
    optimizer.setup(model)
    updater = GuardedUpdater(iterator, optimizer)
    return training.Trainer(updater, (iterations, 'iteration'),
                            out=str(out))


def test_non_finite_loss_stops_before_the_update(tmp_path):
    model = Model(nan_at=(3,))
    trainer = make_trainer(tmp_path, model, Data())
    weights = []
    trainer.extend(lambda t: weights.append(float(model.fc.W.array[0, 0])),
                   trigger=(1, 'iteration'))
    with pytest.raises(NonFiniteLossError) as info:
        trainer.run(show_loop_exception_msg=False)
    message = str(info.value)
    assert message.startswith('iteration 3: the loss is nan')
    assert 'main/loss=nan' in message and 'main/part=nan' in message
    assert trainer.updater.iteration == 2
    # The weights of iteration 2, untouched by the NaN.
    assert float(model.fc.W.array[0, 0]) == weights[-1]
    assert numpy.isfinite(model.fc.W.array).all()


def test_bad_example_leaves_the_iterator_where_it_was(tmp_path):
    data = Data()
    trainer = make_trainer(tmp_path, Model(), data)
    iterator = trainer.updater.get_iterator('main')
    trainer.updater.update()
    position = (iterator.current_position, iterator.epoch,
                iterator.epoch_detail)
    order = iterator._state.order.copy()
    state = iterator.random_state.get_state()[1].copy()
    data.bad = set(range(8))
    with pytest.raises(BadExampleError):
        trainer.updater.update()
    assert (iterator.current_position, iterator.epoch,
            iterator.epoch_detail) == position
    numpy.testing.assert_array_equal(iterator._state.order, order)
    numpy.testing.assert_array_equal(iterator.random_state.get_state()[1],
                                     state)
    assert trainer.updater.iteration == 1
    # Good again: the batch that failed is the next one read.
    data.bad = set()
    expected = iterator._state.order[2:4]
    batch = iterator.next()
    numpy.testing.assert_array_equal([b[0] for b in batch], expected)


def test_snapshot_refuses_non_finite_weights(tmp_path):
    model = Model()
    trainer = make_trainer(tmp_path, model, Data())
    model.fc.W.array[...] = numpy.inf
    with pytest.raises(NonFiniteWeightsError, match='/fc/W'):
        AtomicSnapshot()(trainer)
    assert os.listdir(str(tmp_path)) == []


def test_stop_on_signal_writes_a_snapshot_and_ends(tmp_path):
    trainer = make_trainer(tmp_path, Model(), Data())
    stop = StopOnSignal(trainer.stop_trigger, keep=2)
    trainer.stop_trigger = stop
    assert stop.get_training_length() == (6, 'iteration')

    @training.make_extension(trigger=(3, 'iteration'))
    def ask_to_stop(trainer):
        stop.signum = signal.SIGTERM
    trainer.extend(ask_to_stop)
    trainer.run()
    assert trainer.updater.iteration == 3
    assert [n for n, _ in list_snapshots(str(tmp_path))] == [3]
    assert stop.snapshot.endswith('snapshot_iter_3.npz')


def test_signals_stop_then_stop_at_once_and_handlers_restored():
    stop = StopOnSignal(lambda trainer: False)
    before = signal.getsignal(signal.SIGTERM)
    with signals_stop(stop):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signum == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before
