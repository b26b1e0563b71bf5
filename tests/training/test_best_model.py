"""The best model (training/best_model.py): kept and written after the
evaluations that beat it, reloaded at the LR shift, exact across a resume.

The tiny model learns nothing measurable in a few iterations, so the
evaluator's mAP is scripted (the order of the values is what matters)."""

import os

import chainer
import numpy
import pytest

from fasterrcnn.cli import train as train_cli
from fasterrcnn.evaluation.evaluator import DetectionEvaluator
from fasterrcnn.safe_npz import open_npz
from fasterrcnn.training import builder
from fasterrcnn.weights.model_io import load_model, read_model_info
from tests.support.tiny_run import (TINY, Crash, crash_at_iteration,
                                    write_config)

pytestmark = pytest.mark.e2e

#: mAP reported after each evaluation: the best is iteration 2's until 6.
SCRIPT = {2: 0.5, 4: 0.3, 6: 0.7, 8: float('nan')}
SETTINGS = TINY + ['train.iterations=8', 'eval.every=[2, 4, 6, 8]',
                   'train.lr_shift_at=[4]', 'train.snapshot_every=2',
                   'train.keep_snapshots=10',
                   'train.lr_shift_reload_best=true']


def _scripted_evaluation(self, trainer=None):
    chainer.reporter.report(
        {'validation/main/map': SCRIPT[trainer.updater.iteration]})


@pytest.fixture(autouse=True)
def scripted_map(monkeypatch):
    monkeypatch.setattr(DetectionEvaluator, '__call__',
                        _scripted_evaluation)


@pytest.fixture(scope='module')
def whole(tmp_path_factory, data_dir):
    """The uninterrupted run: its output directory and its extension."""
    root = tmp_path_factory.mktemp('whole')
    kept = []
    build = builder.build_trainer

    def recording(*a, **k):
        trainer, model, names = build(*a, **k)
        kept.append(trainer.get_extension('best_model'))
        return trainer, model, names
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DetectionEvaluator, '__call__',
                      _scripted_evaluation)
        patch.setattr(train_cli, 'build_trainer', recording)
        out = str(root / 'run')
        assert run(write_config(root, data_dir), out) == 0
    return out, kept[0]


def run(config, out, *extra, resume=None):
    argv = ['--config', config, '--out', out, '--no-progress']
    if resume:
        argv += ['--resume', resume]
    for item in SETTINGS + list(extra):
        argv += ['--set', item]
    return train_cli.main(argv)


def weights(path):
    model, _ = load_model(path)
    return {name: p.array.copy() for name, p in model.namedparams()}


def snapshot_weights(path):
    prefix = 'updater/model:main/faster_rcnn'
    with open_npz(path) as f:
        return {key[len(prefix):]: f[key] for key in f.files
                if key.startswith(prefix + '/')}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        numpy.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_best_kept_written_and_reloaded_at_the_shift(whole):
    out, best = whole
    # 0.5 at 2, then 0.3 (not better), 0.7 at 6, NaN (never the best)
    assert (best.best_iteration, best.best_map) == (6, 0.7)
    assert best.reloaded == [(4, 2)]
    info = read_model_info(os.path.join(out, 'best.npz'))
    assert info['best'] == {'iteration': 6, 'map': 0.7}
    assert info['label_names'] == ['circle', 'square', 'triangle']
    # best.npz is iteration 6's model, as its snapshot holds it
    assert_same(weights(os.path.join(out, 'best.npz')),
                snapshot_weights(os.path.join(out, 'snapshot_iter_6.npz')))
    # the reload is visible: the model after iteration 4 is iteration 2's
    # (snapshot 4 is written after the reload), not what 4 updates made
    at_2 = snapshot_weights(os.path.join(out, 'snapshot_iter_2.npz'))
    assert_same(snapshot_weights(os.path.join(out, 'snapshot_iter_4.npz')),
                at_2)


def test_without_an_evaluation_before_the_shift_nothing_is_reloaded(
        tmp_path, data_dir):
    # (the first evaluation comes after the shift: no best to reload yet)
    out = str(tmp_path / 'run')
    assert run(write_config(tmp_path, data_dir), out,
               'eval.every=[6, 8]') == 0
    at_4 = snapshot_weights(os.path.join(out, 'snapshot_iter_4.npz'))
    at_2 = snapshot_weights(os.path.join(out, 'snapshot_iter_2.npz'))
    assert any((at_2[n] != at_4[n]).any() for n in at_2)


def test_without_reload_the_shift_only_shifts(tmp_path, data_dir):
    out = str(tmp_path / 'run')
    assert run(write_config(tmp_path, data_dir), out,
               'train.lr_shift_reload_best=false') == 0
    at_2 = snapshot_weights(os.path.join(out, 'snapshot_iter_2.npz'))
    at_4 = snapshot_weights(os.path.join(out, 'snapshot_iter_4.npz'))
    assert any((at_2[n] != at_4[n]).any() for n in at_2)
    assert read_model_info(os.path.join(out, 'best.npz'))['best'][
        'iteration'] == 6


@pytest.mark.parametrize('crash_at', [3, 5])
def test_resume_across_the_reload_is_exact(tmp_path, data_dir, monkeypatch,
                                           crash_at, whole):
    # 3: resumed from snapshot 2, the reload at 4 must use the best weights
    # the snapshot holds; 5: resumed after the reload, before the next best.
    config = write_config(tmp_path, data_dir)
    whole, _ = whole
    build = crash_at_iteration(monkeypatch, crash_at)
    broken = str(tmp_path / 'broken')
    with pytest.raises(Crash):
        run(config, broken)
    monkeypatch.setattr(train_cli, 'build_trainer', build)
    assert run(config, broken, resume='auto') == 0
    assert_same(weights(os.path.join(broken, 'model.npz')),
                weights(os.path.join(whole, 'model.npz')))
    assert_same(weights(os.path.join(broken, 'best.npz')),
                weights(os.path.join(whole, 'best.npz')))


def test_a_snapshot_from_before_best_models_resumes(tmp_path, data_dir):
    # A run's snapshot without the best model's entries (as written before
    # runs kept one) resumes; the best is counted from the next evaluation.
    config = write_config(tmp_path, data_dir)
    first = str(tmp_path / 'first')
    assert run(config, first, 'train.iterations=4') == 0
    old = str(tmp_path / 'old')
    os.makedirs(old)
    with numpy.load(os.path.join(first, 'snapshot_iter_4.npz')) as f:
        arrays = {k: f[k] for k in f.files if '/best_model/' not in k}
    assert len(arrays) < len(f.files)
    numpy.savez(os.path.join(old, 'snapshot_iter_4.npz'), **arrays)
    assert run(config, old, resume='auto') == 0
    info = read_model_info(os.path.join(old, 'best.npz'))
    assert info['best'] == {'iteration': 6, 'map': 0.7}
