"""The tiny training runs of the suite: their config file, command lines,
weights, and a crash at a chosen iteration."""

import os

import chainer

from fasterrcnn.cli import train as train_cli
from fasterrcnn.training import builder
from fasterrcnn.weights.model_io import load_model
from tests.support.dummy_model import tiny_overrides

#: The repository root.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
#: The ``--set`` items of the tiny run (6 iterations, a rate shift at 4,
#: snapshots every 2, an evaluation at 6).
TINY = tiny_overrides()


def write_config(tmp_path, data_dir):
    """A config file in ``tmp_path`` naming the data directory only."""
    path = os.path.join(str(tmp_path), 'tiny.yaml')
    with open(path, 'w') as f:
        f.write('data:\n  dir: {}\n'.format(data_dir))
    return path


def args(config, out, *extra):
    """fasterrcnn-train's argv for the tiny run, then ``extra``."""
    argv = ['--config', config, '--out', out, '--no-progress']
    for item in TINY:
        argv += ['--set', item]
    return argv + list(extra)


def params(path):
    """``({name: weights}, label_names)`` of a model file."""
    model, names = load_model(path)
    return {name: p.array.copy() for name, p in model.namedparams()}, names


class Crash(Exception):
    """What :func:`crash_at_iteration` raises."""


def crash_at_iteration(monkeypatch, iteration, built=None):
    """Makes every later fasterrcnn-train run raise :class:`Crash` after
    update ``iteration`` (None: no crash), appending each Trainer it builds
    to ``built``. Returns the original ``build_trainer`` (to put back)."""
    build = builder.build_trainer

    def building(*a, **k):
        trainer, model, label_names = build(*a, **k)
        if built is not None:
            built.append(trainer)
        if iteration is not None:
            @chainer.training.make_extension(trigger=(iteration, 'iteration'))
            def crash(trainer):
                raise Crash()
            trainer.extend(crash)
        return trainer, model, label_names
    monkeypatch.setattr(train_cli, 'build_trainer', building)
    return build
