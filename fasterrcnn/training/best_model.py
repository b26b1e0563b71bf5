"""The best model of a run: kept, written, and reloaded at the LR shifts.

The PyTorch version's ``train.py`` saves the model after every evaluation
that beats the best test mAP so far, and at its learning-rate decay it
loads that best model back before multiplying the rate by 0.1: its
published mAP comes from that recipe. :class:`KeepBestModel` does the same
in a Chainer Trainer:

* after each evaluation whose ``validation/main/map`` beats the best so
  far, the weights are kept (a copy on the host) and written to
  ``<out>/best.npz``, a model file like ``model.npz`` (``eval.py`` reads
  it) that also records the iteration and the mAP;
* at each of ``reload_at`` (``train.lr_shift_at`` with
  ``train.lr_shift_reload_best``) the kept weights replace the model's,
  after that iteration's evaluation has been counted; only the weights, as
  in the PyTorch version (whose best checkpoint holds no optimizer state),
  so the momentum goes on;
* the kept weights, mAP and iteration are part of the trainer snapshot, so
  a resumed run reloads exactly what the uninterrupted run would have,
  whatever ``best.npz`` on disk holds by then (a run stopped after a later
  best wrote a newer one; the resumed run writes it again when it gets
  there).
"""

import math
import os

import chainer
import numpy
from chainer import training

from fasterrcnn.backend import to_cpu
from fasterrcnn.safe_npz import read_optional
from fasterrcnn.training.extensions import every_iteration

#: The value that decides what is best.
MAP_KEY = 'validation/main/map'
#: ``<out>/best.npz``.
BEST_FILE = 'best.npz'


def _evaluated_at(every):
    """``iteration -> bool``: whether ``eval.every`` evaluates after that
    update (an interval, or a list of iterations)."""
    if isinstance(every, int):
        return lambda iteration: iteration > 0 and iteration % every == 0
    points = set(int(i) for i in every)
    return lambda iteration: iteration in points


class KeepBestModel(training.Extension):
    """Keeps, writes and reloads the model with the best validation mAP.

    Args:
        model (chainer.Link): the detector (its ``namedparams`` are kept).
        label_names (sequence of str): written into ``best.npz``.
        eval_every (int or sequence of int): ``eval.every``: the iterations
            after which the evaluator reports ``validation/main/map``.
        reload_at (sequence of int): iterations after which the best
            weights so far replace the model's (none: never).
        comm: a ChainerMN communicator or None. Only rank 0's evaluator
            reports the mAP; it is sent to every process, so that all keep
            and reload the same weights.
        writer (bool): this process writes ``best.npz``.
    """

    # After the evaluator (PRIORITY_WRITER) and the LR shift
    # (PRIORITY_EDITOR) of the same iteration, before the snapshot
    # (priority -100), which then holds the reloaded weights.
    priority = training.PRIORITY_READER
    default_name = 'best_model'

    def __init__(self, model, label_names, eval_every, reload_at=(),
                 comm=None, writer=True):
        self.trigger = every_iteration
        self.model = model
        self.label_names = label_names
        self.evaluated_at = _evaluated_at(eval_every)
        self.reload_at = frozenset(int(i) for i in reload_at)
        self.comm = comm
        self.writer = writer
        self.best_map = None
        self.best_iteration = None
        self.weights = None
        self.reloaded = []

    def _reported_map(self, trainer):
        value = trainer.observation.get(MAP_KEY)
        if value is not None:
            value = float(to_cpu(getattr(value, 'array', value)))
        if self.comm is not None:
            value = self.comm.bcast_obj(value, root=0)
        return value

    def __call__(self, trainer):
        iteration = trainer.updater.iteration
        if self.evaluated_at(iteration):
            value = self._reported_map(trainer)
            # A NaN mAP (no ground truth at all) is never the best.
            if value is not None and not math.isnan(value) and (
                    self.best_map is None or value > self.best_map):
                self.best_map = value
                self.best_iteration = iteration
                self.weights = {name: numpy.array(to_cpu(param.array))
                                for name, param in self.model.namedparams()}
                if self.writer:
                    self._write(trainer.out)
        if iteration in self.reload_at and self.weights is not None:
            for name, param in self.model.namedparams():
                param.array[...] = param.device.send(self.weights[name])
            self.reloaded.append((iteration, self.best_iteration))

    def _write(self, out):
        from fasterrcnn.weights.model_io import save_model
        save_model(self.model, os.path.join(out, BEST_FILE),
                   self.label_names,
                   info={'best': {'iteration': self.best_iteration,
                                  'map': self.best_map}})

    def serialize(self, serializer):
        # Stored as arrays (-1 / NaN: nothing yet), the way snapshots hold
        # every value.
        if isinstance(serializer, chainer.serializer.Serializer):
            serializer('has_best', numpy.array(self.weights is not None))
            serializer('best_map', numpy.array(
                numpy.nan if self.best_map is None else self.best_map))
            serializer('best_iteration', numpy.array(
                -1 if self.best_iteration is None else self.best_iteration))
            if self.weights is not None:
                weights = serializer['weights']
                for name in sorted(self.weights):
                    weights(name.lstrip('/'), self.weights[name])
            return
        has_best = read_optional(serializer, 'has_best')
        # None: a snapshot written before runs kept their best model; the
        # best is counted from the next evaluation on.
        if has_best is None or not bool(has_best):
            self.best_map = self.best_iteration = self.weights = None
            return
        self.best_map = float(serializer('best_map', None))
        self.best_iteration = int(serializer('best_iteration', None))
        weights = serializer['weights']
        self.weights = {}
        for name, param in self.model.namedparams():
            self.weights[name] = numpy.array(
                weights(name.lstrip('/'), None), dtype=param.dtype)
