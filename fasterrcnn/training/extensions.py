"""Trainer extensions of the training loop: the learning rate schedule."""

import bisect

from chainer import training


def shifted_value(iteration, init, factor, shift_at):
    """The scheduled value after ``iteration`` updates.

    Args:
        iteration (int): updates done.
        init (float): the value before any shift.
        factor (float): applied once per shift point passed.
        shift_at (sequence of int): iterations after which the value is
            multiplied by ``factor``.

    Returns:
        float: ``init * factor ** k``, ``k`` the number of points
        ``<= iteration``.
    """
    n_passed = bisect.bisect_right(sorted(shift_at), iteration)
    return init * factor ** n_passed


def every_iteration(trainer):
    """A trigger that fires after every update and, being a plain function,
    adds no state to the snapshot (an ``(1, 'iteration')`` interval trigger
    does, which snapshots written before an extension existed lack, so they
    could not be resumed with it)."""
    return True


class LearningRateShift(training.Extension):
    """Multiplies the learning rate by ``factor`` at given iterations.

    The value is computed from the iteration count alone (see
    :func:`shifted_value`), never from a counter, so it is right after a
    resume from a snapshot too: the first update uses ``init``, and the
    update after update ``s`` of ``shift_at`` (and every later one) uses the
    value multiplied once more. The extension runs after every update and
    once before the first one (``initialize``).

    Args:
        shift_at (sequence of int): the shift points, in iterations.
        factor (float): the multiplier per shift point.
        init (float or None): the value before any shift; None takes the
            optimizer's value when training starts (the constructor's lr,
            since chainer does not store hyperparameters in snapshots).
        attr (str): the optimizer hyperparameter (``'lr'``; ``'alpha'`` for
            Adam).
        optimizer (chainer.Optimizer or None): None uses the updater's
            ``'main'`` optimizer.
        multipliers (dict or callable or None): parameters whose update rule
            has its own value, ``multiplier * value``: a dict from the
            parameter name (as ``link.namedparams()`` gives it, e.g.
            ``'/head/fc6/b'``) to the multiplier, or a callable ``(name,
            param) -> multiplier or None``. This keeps biases at twice the
            learning rate across shifts.
    """

    trigger = 1, 'iteration'
    priority = training.PRIORITY_EDITOR
    default_name = 'lr_shift'

    def __init__(self, shift_at, factor=0.1, init=None, attr='lr',
                 optimizer=None, multipliers=None):
        self.shift_at = tuple(sorted(int(s) for s in shift_at))
        self.factor = factor
        self.init = init
        self.attr = attr
        self._optimizer = optimizer
        self.multipliers = multipliers

    def _get_optimizer(self, trainer):
        if self._optimizer is not None:
            return self._optimizer
        return trainer.updater.get_optimizer('main')

    def value_at(self, iteration):
        """The value used by the update after ``iteration`` updates."""
        return shifted_value(iteration, self.init, self.factor,
                             self.shift_at)

    def _multiplier(self, name, param):
        if self.multipliers is None:
            return None
        if callable(self.multipliers):
            return self.multipliers(name, param)
        return self.multipliers.get(name)

    def _apply(self, trainer):
        optimizer = self._get_optimizer(trainer)
        value = self.value_at(trainer.updater.iteration)
        setattr(optimizer, self.attr, value)
        if self.multipliers is None:
            return
        for name, param in optimizer.target.namedparams():
            mult = self._multiplier(name, param)
            rule = getattr(param, 'update_rule', None)
            if mult is not None and rule is not None:
                setattr(rule.hyperparam, self.attr, value * mult)

    def initialize(self, trainer):
        if self.init is None:
            self.init = getattr(self._get_optimizer(trainer), self.attr)
        self._apply(trainer)

    def __call__(self, trainer):
        self._apply(trainer)
