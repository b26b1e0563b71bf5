"""What keeps a long run's work safe: a finite-loss check before every
update, a clean stop on SIGINT / SIGTERM with a snapshot of the iteration
reached, and the iterator's position kept when an example cannot be read.

* :class:`GuardedUpdater` checks the loss before the backward pass: a NaN
  or infinite loss stops the run (:class:`NonFiniteLossError`, naming the
  iteration and the losses) before any weight changes, so no snapshot with
  non-finite weights is ever written. A bad example met while reading a
  batch leaves the iterator where it was, so that a snapshot taken then
  holds the last complete iteration.
* :class:`StopOnSignal` replaces the Trainer's stop trigger: after
  :func:`signals_stop` has seen SIGINT or SIGTERM, the next check (between
  two iterations, after every extension of the last one) writes a snapshot
  and ends the run, which ``--resume auto`` then continues bit for bit.
* Snapshots refuse non-finite weights
  (:func:`fasterrcnn.training.snapshot.check_finite_params`).
"""

import contextlib
import math
import signal
import sys

import chainer
from chainer import serializers
from chainer.training import updaters

from fasterrcnn.backend import to_cpu
from fasterrcnn.data.bad_examples import BadExampleError
from fasterrcnn.training.snapshot import (check_finite_params, list_snapshots,
                                          write_snapshot)

#: The signals that stop a run cleanly (Ctrl-C, a cluster's preemption).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class NonFiniteLossError(ArithmeticError):
    """The loss of an iteration is NaN or infinite; no update was made."""


def _observed_values(observation):
    """``name=value`` for the scalar values reported this iteration."""
    parts = []
    for name in sorted(observation):
        value = observation[name]
        if isinstance(value, chainer.Variable):
            value = value.array
        try:
            parts.append('{}={:g}'.format(name, float(to_cpu(value))))
        except (TypeError, ValueError):
            continue
    return ', '.join(parts)


class GuardedUpdater(updaters.StandardUpdater):
    """:class:`chainer.training.updaters.StandardUpdater` that stops on a
    non-finite loss before the update and keeps the iterator's position
    when reading a batch fails.

    Args: as StandardUpdater (``iterator``, ``optimizer``, ``device``,
        ``loss_func`` ...), and ``comm``, a ChainerMN communicator (the
        loss check is then agreed among the processes).
    """

    def __init__(self, iterator, optimizer, loss_func=None, comm=None,
                 **kwargs):
        target = loss_func or optimizer.target
        self.comm = comm
        super(GuardedUpdater, self).__init__(
            iterator, optimizer, loss_func=self._checked(target), **kwargs)

    def _checked(self, loss_func):
        def checked(*args, **kwargs):
            loss = loss_func(*args, **kwargs)
            value = float(to_cpu(loss.array))
            finite = math.isfinite(value)
            if self.comm is not None:
                # Every process stops, or none: one that went on alone
                # would wait for the others' gradients for ever.
                finite = self.comm.allreduce_obj(int(not finite)) == 0
            if not finite:
                observation = chainer.reporter.get_current_reporter() \
                    .observation
                raise NonFiniteLossError(
                    'iteration {}: the loss is {} ({}); no update was made'
                    .format(self.iteration + 1, value,
                            _observed_values(observation) or 'no values'))
            return loss
        return checked

    def update_core(self):
        iterator = self._iterators['main']
        # The iterator's position (and random state) before this batch: a
        # few hundred numbers, kept in memory.
        saved = {}
        serializers.DictionarySerializer(saved).save(iterator)
        try:
            super(GuardedUpdater, self).update_core()
        except BadExampleError:
            serializers.NpzDeserializer(saved).load(iterator)
            raise


class StopOnSignal(object):
    """A Trainer stop trigger that also ends the run after a signal.

    Wraps the trainer's own stop trigger (every attribute but the call is
    the wrapped trigger's, so the training length and the snapshot entries
    are unchanged). Once :attr:`signum` is set, the next call writes a
    snapshot of the iteration reached (unless one is there) and returns
    True.

    Args:
        trigger: the trainer's stop trigger.
        keep (int or None): snapshots to keep (``train.keep_snapshots``).
        comm: a ChainerMN communicator, or None: the processes agree at
            every check, and only rank 0 writes.
    """

    def __init__(self, trigger, keep=None, comm=None):
        self.trigger = trigger
        self.keep = keep
        self.comm = comm
        self.signum = None
        self.snapshot = None

    def __call__(self, trainer):
        signalled = self.signum is not None
        if self.comm is not None:
            # A signal seen by any process stops all of them at the same
            # iteration; rank 0 writes the snapshot.
            signalled = self.comm.allreduce_obj(int(signalled)) > 0
            if signalled and self.signum is None:
                self.signum = signal.SIGTERM
        if not signalled:
            return self.trigger(trainer)
        if self.comm is None or self.comm.rank == 0:
            self.snapshot = snapshot_now(trainer, self.keep)
        return True

    def __getattr__(self, name):
        # Only for attributes not found on this object.
        return getattr(self.__dict__['trigger'], name)


def snapshot_now(trainer, keep=None):
    """The snapshot of the iteration the trainer has reached: written now
    unless it exists.

    Returns:
        str or None: its path; None before the first update (there is
        nothing to keep, and the optimizer's state does not exist yet).
    """
    iteration = trainer.updater.iteration
    if iteration == 0:
        return None
    for number, path in list_snapshots(trainer.out):
        if number == iteration:
            return path
    check_finite_params(trainer.updater.get_optimizer('main').target)
    return write_snapshot(trainer, trainer.out, iteration, keep=keep)


@contextlib.contextmanager
def signals_stop(stop, stream=None):
    """While inside, SIGINT and SIGTERM ask ``stop`` to end the run; a
    second one stops at once (``KeyboardInterrupt``).

    Args:
        stop (StopOnSignal): the trainer's stop trigger.
        stream: where the notice goes (stderr when None).
    """
    def handler(signum, frame):
        if stop.signum is not None:
            raise KeyboardInterrupt
        stop.signum = signum
        print('{}: stopping after this iteration, with a snapshot (send it '
              'again to stop at once)'.format(signal.Signals(signum).name),
              file=stream or sys.stderr, flush=True)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
