"""A tiny trainer for the training tests: one Linear layer, a few examples.
"""

import chainer
import chainer.functions as F
import chainer.links as L
import numpy

from fasterrcnn.training import RandomStateHolder, SeededSerialIterator


class ToyData(chainer.dataset.DatasetMixin):
    """``n`` examples ``(x, t, index)``: (2,) float32, (1,) float32, int."""

    def __init__(self, n=5):
        rs = numpy.random.RandomState(123)
        self.x = rs.uniform(-1, 1, (n, 2)).astype(numpy.float32)
        self.t = (self.x.sum(axis=1, keepdims=True) + 0.5).astype(
            numpy.float32)

    def __len__(self):
        return len(self.x)

    def get_example(self, i):
        return self.x[i], self.t[i], i


class ToyModel(chainer.Chain):
    """Linear regression whose input gets noise from ``random_state`` (a
    stand-in for random target sampling); records what each update saw."""

    def __init__(self, random_state):
        super(ToyModel, self).__init__()
        with self.init_scope():
            self.fc = L.Linear(2, 1, initialW=0.5, initial_bias=0.1)
        self.random_state = random_state
        self.optimizer = None
        self.seen = []  # one dict per forward pass

    def forward(self, x, t, index):
        noise = self.random_state.uniform(-0.1, 0.1, x.shape).astype(
            numpy.float32)
        rule = self.fc.b.update_rule
        self.seen.append({
            'index': [int(i) for i in index],
            'noise': noise.copy(),
            'lr': None if self.optimizer is None else self.optimizer.lr,
            'bias_lr': None if rule is None else rule.hyperparam.lr,
        })
        loss = F.mean_squared_error(self.fc(x + noise), t)
        chainer.report({'loss': loss}, self)
        return loss


def make_trainer(out, iterations, seed, lr=0.1, batch_size=2, n=5,
                 extensions=()):
    """A Trainer over ToyData whose data order and noise come from
    RandomStates seeded with ``seed`` (the noise state registered as the
    extension ``noise_random_state``). Returns (trainer, model)."""
    iterator = SeededSerialIterator(ToyData(n), batch_size, seed=seed)
    model = ToyModel(numpy.random.RandomState(seed + 1000))
    optimizer = chainer.optimizers.MomentumSGD(lr=lr, momentum=0.9)
    optimizer.setup(model)
    model.optimizer = optimizer
    updater = chainer.training.updaters.StandardUpdater(iterator, optimizer)
    trainer = chainer.training.Trainer(
        updater, (iterations, 'iteration'), out=str(out))
    trainer.extend(RandomStateHolder(model.random_state),
                   name='noise_random_state')
    for extension in extensions:
        trainer.extend(extension)
    return trainer, model
