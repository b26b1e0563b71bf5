"""The fused MomentumSGD: Chainer's MomentumSGD with a WeightDecay hook, bit
for bit, on one core or several."""

import io

import chainer
import numpy
import pytest

from fasterrcnn.training import momentum_sgd
from fasterrcnn.training.momentum_sgd import MomentumSGD, update

# A bias, a kernel, one array just past a slice, one split over the cores
# whose size is no multiple of a slice.
SHAPES = {'b': (7,), 'W': (16, 3, 3, 3), 'edge': (momentum_sgd.CHUNK + 3,),
          'big': (3, momentum_sgd.PARALLEL_MIN // 2 + 5)}


class Params(chainer.Link):

    def __init__(self, dtype, seed):
        super(Params, self).__init__()
        rng = numpy.random.RandomState(seed)
        with self.init_scope():
            for name, shape in SHAPES.items():
                setattr(self, name, chainer.Parameter(
                    rng.standard_normal(shape).astype(dtype)))


def grads(link, step, dtype):
    rng = numpy.random.RandomState(100 + step)
    for name, param in sorted(link.namedparams()):
        g = rng.standard_normal(param.shape).astype(dtype)
        if step == 2:      # large and tiny values, and exact zeros
            g *= rng.choice([0., 1e-30, 1e4], size=param.shape).astype(dtype)
        param.grad = g


def train(optimizer, fused, dtype, steps=4, lrs=(0.01, 0.01, 0.001, 0.001)):
    link = Params(dtype, seed=0)
    optimizer.setup(link)
    for name, param in link.namedparams():
        if name == '/b':
            param.update_rule.hyperparam.lr = optimizer.lr * 2.
        elif fused:
            param.update_rule.decay = 5e-4
        else:
            param.update_rule.add_hook(
                chainer.optimizer_hooks.WeightDecay(5e-4))
    for step in range(steps):
        optimizer.lr = lrs[step]
        grads(link, step, dtype)
        optimizer.update()
    return link, optimizer


def arrays(link, optimizer):
    out = {name: param.array for name, param in link.namedparams()}
    for name, param in link.namedparams():
        out[name + '/v'] = param.update_rule.state['v']
        out[name + '/g'] = param.grad
    return out


@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
def test_the_same_bits_as_chainers_rule_and_hook(dtype):
    theirs = arrays(*train(chainer.optimizers.MomentumSGD(momentum=0.9),
                           False, dtype))
    ours = arrays(*train(MomentumSGD(momentum=0.9), True, dtype))
    assert sorted(theirs) == sorted(ours)
    for name in theirs:
        assert ours[name].dtype == dtype
        assert ours[name].tobytes() == theirs[name].tobytes(), name


def test_the_number_of_cores_changes_no_bit(monkeypatch):
    results = []
    for cores in (1, 2, 3):
        monkeypatch.setattr(momentum_sgd, 'cpu_threads', lambda: cores)
        link, opt = train(MomentumSGD(momentum=0.9), True, numpy.float32)
        results.append(arrays(link, opt))
    for other in results[1:]:
        for name in results[0]:
            assert other[name].tobytes() == results[0][name].tobytes()


def test_a_strided_gradient_takes_chainers_own_path():
    def run(fused):
        param = chainer.Parameter(numpy.arange(12, dtype='f').reshape(3, 4))
        link = chainer.Link()
        with link.init_scope():
            link.w = param
        opt = (MomentumSGD if fused else chainer.optimizers.MomentumSGD)(
            lr=0.1, momentum=0.9)
        opt.setup(link)
        if fused:
            param.update_rule.decay = 0.5
        else:
            param.update_rule.add_hook(chainer.optimizer_hooks.WeightDecay(.5))
        for step in range(2):
            g = numpy.linspace(-1, 1, 12, dtype='f').reshape(4, 3) * step
            param.grad = g.T           # not C-contiguous
            opt.update()
        return param.array, param.update_rule.state['v']
    for ours, theirs in zip(run(True), run(False)):
        numpy.testing.assert_array_equal(ours, theirs)


def test_a_cleared_gradient_steps_as_chainers_does():
    # Chainer's optimizer gives a parameter with no gradient a zero one
    # first: the decay alone moves it.
    def run(fused):
        param = chainer.Parameter(numpy.ones(3, dtype='f'))
        link = chainer.Link()
        with link.init_scope():
            link.w = param
        opt = (MomentumSGD if fused else chainer.optimizers.MomentumSGD)(
            lr=0.1)
        opt.setup(link)
        if fused:
            param.update_rule.decay = 0.1
        else:
            param.update_rule.add_hook(chainer.optimizer_hooks.WeightDecay(.1))
        param.grad = None
        opt.update()
        return param.array
    ours = run(True)
    assert (ours < 1).all()
    assert ours.tobytes() == run(False).tobytes()


def test_non_finite_values_propagate_as_chainers_do():
    p = numpy.array([1., 2., numpy.inf, 4., -0.], dtype='f')
    g = numpy.array([numpy.nan, 1., 1., -numpy.inf, 0.], dtype='f')
    v = numpy.array([0., -1., 0., 0., -0.], dtype='f')
    ref = [p.copy(), g.copy(), v.copy()]
    with numpy.errstate(invalid='ignore'):
        update(p, g, v, 0.1, 0.9, rate=0.5)
        ref[1] += 0.5 * ref[0]
        ref[2] *= 0.9
        ref[2] -= 0.1 * ref[1]
        ref[0] += ref[2]
    for ours, theirs in zip((p, g, v), ref):
        assert ours.tobytes() == theirs.tobytes()
    assert numpy.isnan(p[[0, 2]]).all() and numpy.isposinf(p[3])


def test_snapshots_are_chainers():
    # Our optimizer's state loads into Chainer's and back: the same keys.
    link, ours = train(MomentumSGD(momentum=0.9), True, numpy.float32,
                       steps=1)
    buf = io.BytesIO()
    chainer.serializers.save_npz(buf, ours)
    buf.seek(0)
    theirs = chainer.optimizers.MomentumSGD(momentum=0.9)
    theirs.setup(Params(numpy.float32, seed=1))
    chainer.serializers.load_npz(buf, theirs)
    for name, param in link.namedparams():
        target = dict(theirs.target.namedparams())[name]
        numpy.testing.assert_array_equal(
            target.update_rule.state['v'], param.update_rule.state['v'])
        assert target.update_rule.t == param.update_rule.t == 1
