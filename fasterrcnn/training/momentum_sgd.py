"""MomentumSGD with its weight decay in the same pass, on every core.

Chainer's ``MomentumSGD`` with a ``WeightDecay`` hook walks each
parameter array in whole-array NumPy operations: the hook's ``g += rate
* p``, then ``v *= momentum``, ``v -= lr * g`` and ``p += v``, each with
a temporary as large as the array. For VGG16's 137 M parameters (fc6
alone is 103 M) that is about fifteen passes over 550 MB arrays on one
core: 380 ms of a training iteration on the 2-core development machine
(docs/performance.md).

:class:`MomentumSGDRule` runs the same expressions, in the same order,
on slices of about 64 K values (the slices of ``p``, ``g``, ``v`` and
the temporaries stay in the core's cache) and splits a large array over
the cores. Every value is computed by the same floating-point operations
as Chainer's hook and rule, so the weights are the same bit for bit; the
state (``v``) and the snapshots are Chainer's.
"""

import chainer
import numpy

from fasterrcnn.cpu_threads import cpu_threads, run_slices

#: Values per slice: 64 K float32 values are 256 KB, so the slices of p,
#: g, v and one temporary fit in a 512 KB L2 cache.
CHUNK = 1 << 16
#: Arrays smaller than this run on the calling thread in one slice: a
#: bias or a small kernel costs less than waking the pool.
PARALLEL_MIN = 1 << 20


def _update_slices(p, g, v, lr, momentum, rate, start, stop):
    """Chainer's expressions on ``[start, stop)`` of the flat arrays,
    slice by slice."""
    for s in range(start, stop, CHUNK):
        ps, gs, vs = p[s:s + CHUNK], g[s:s + CHUNK], v[s:s + CHUNK]
        if rate is not None:
            gs += rate * ps        # chainer.optimizer_hooks.WeightDecay
        vs *= momentum             # chainer.optimizers.MomentumSGDRule
        vs -= lr * gs
        ps += vs


def update(p, g, v, lr, momentum, rate=None):
    """``g += rate * p; v = momentum * v - lr * g; p += v`` in place.

    Args:
        p (numpy.ndarray): the parameter, any shape, C-contiguous.
        g (numpy.ndarray): its gradient, same shape and dtype, contiguous;
            the weight decay is added to it, as Chainer's hook does.
        v (numpy.ndarray): the momentum, same shape and dtype, contiguous.
        lr (float): the learning rate.
        momentum (float): the momentum.
        rate (float or None): the weight decay; None for none.
    """
    p, g, v = p.reshape(-1), g.reshape(-1), v.reshape(-1)
    n = p.size
    # Parts on whole slices, so each value's expressions are the same
    # whatever the number of cores; a small array is one part, on the
    # calling thread.
    run_slices(lambda c0, c1: _update_slices(
        p, g, v, lr, momentum, rate, c0 * CHUNK, min(c1 * CHUNK, n)),
        -(-n // CHUNK), max(1, min(cpu_threads(), -(-n // PARALLEL_MIN))))


def _fusable(param, state):
    arrays = (param.array, param.grad, state)
    return all(isinstance(a, numpy.ndarray) and a.flags.c_contiguous
               for a in arrays) and \
        len({(a.shape, a.dtype) for a in arrays}) == 1


class MomentumSGDRule(chainer.optimizers.momentum_sgd.MomentumSGDRule):
    """Chainer's MomentumSGD rule with an optional weight decay.

    Attributes:
        decay (float): the L2 rate added to the gradient before the step
            (``chainer.optimizer_hooks.WeightDecay``'s); 0 for none.
    """

    def __init__(self, parent_hyperparam=None, lr=None, momentum=None):
        super(MomentumSGDRule, self).__init__(parent_hyperparam, lr,
                                              momentum)
        self.decay = 0.

    def _rate(self, param):
        if not self.decay:
            return None
        rate = self.decay
        if param._loss_scale is not None:
            rate *= param._loss_scale
        return rate

    def update_core_cpu(self, param):
        if param.grad is None:
            return
        v = self.state['v']
        if not _fusable(param, v):
            if self.decay:
                chainer.optimizer_hooks.WeightDecay(self.decay)(self, param)
            super(MomentumSGDRule, self).update_core_cpu(param)
            return
        update(param.array, param.grad, v, self.hyperparam.lr,
               self.hyperparam.momentum, self._rate(param))

    def update_core_gpu(self, param):
        if param.grad is None:
            return
        if self.decay:
            chainer.optimizer_hooks.WeightDecay(self.decay)(self, param)
        super(MomentumSGDRule, self).update_core_gpu(param)


class MomentumSGD(chainer.optimizers.MomentumSGD):
    """``chainer.optimizers.MomentumSGD`` whose rules are
    :class:`MomentumSGDRule`: set ``param.update_rule.decay`` instead of
    adding a ``WeightDecay`` hook. Its state and snapshots are Chainer's."""

    def create_update_rule(self):
        return MomentumSGDRule(self.hyperparam)
