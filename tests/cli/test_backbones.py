"""Every backbone through the commands: a narrow ResNet-50 C4 trains (one
image with RoI pooling, padded minibatches of two with RoIAlign), resumes
bit for bit after a crash, and its model file evaluates and predicts
(fasterrcnn-train, -eval, -predict, the backbone table)."""

import json
import os
import subprocess
import sys

import numpy
import pytest

from fasterrcnn.cli import evaluate as evaluate_cli
from fasterrcnn.cli import predict as predict_cli
from fasterrcnn.cli import train as train_cli
from fasterrcnn.weights.model_io import read_model_info
from tests.cli.test_predict import write_image
from tests.support.tiny_run import (ROOT, Crash, args, crash_at_iteration,
                                    params, write_config)

#: A ResNet-50 of one block per stage, stem width 8 (the config keys of
#: configs/shapes_resnet.yaml, narrower).
RESNET = ['--set', 'model.backbone=resnet50', '--set',
          'model.resnet_width=8', '--set', 'model.resnet_depths=[1,1,1,1]']
MPIEXEC = os.path.join(os.path.dirname(sys.executable), 'mpiexec')


def assert_same_params(a, b):
    got, _ = params(os.path.join(a, 'model.npz'))
    want, _ = params(os.path.join(b, 'model.npz'))
    assert got.keys() == want.keys()
    for name in want:
        numpy.testing.assert_array_equal(got[name], want[name],
                                         err_msg=name)


@pytest.mark.e2e
@pytest.mark.parametrize('batch, roi_op', [(1, 'pool'), (2, 'align')])
def test_resnet_trains_resumes_bit_for_bit_evaluates_and_predicts(
        tmp_path, data_dir, monkeypatch, capsys, batch, roi_op):
    config = write_config(tmp_path, data_dir)
    extra = RESNET + ['--set', 'train.batch_size={}'.format(batch),
                      '--set', 'model.roi_op=' + roi_op]
    whole = str(tmp_path / 'whole')
    assert train_cli.main(args(config, whole, *extra)) == 0
    model_file = os.path.join(whole, 'model.npz')
    info = read_model_info(model_file)
    assert info['arch'] == 'resnet50'
    assert info['init_args']['depths'] == [1, 1, 1, 1]
    assert info['init_args']['roi_op'] == roi_op

    # Killed during iteration 5 (after the snapshot of 4), then resumed.
    build = crash_at_iteration(monkeypatch, 5)
    broken = str(tmp_path / 'broken')
    with pytest.raises(Crash):
        train_cli.main(args(config, broken, *extra))
    monkeypatch.setattr(train_cli, 'build_trainer', build)
    assert train_cli.main(args(config, broken, *extra,
                               '--resume', 'auto')) == 0
    assert_same_params(broken, whole)
    if batch == 2:
        return

    capsys.readouterr()
    out = str(tmp_path / 'eval.json')
    assert evaluate_cli.main(['--model', model_file, '--data', data_dir,
                              '--out', out, '--no-progress']) == 0
    with open(out) as f:
        assert json.load(f)['n_images'] == 2
    capsys.readouterr()
    image = write_image(tmp_path / 'photo.png', 70, 90, seed=0)
    assert predict_cli.main(['--model', model_file, '--score-thresh', '0',
                             '--no-progress', image]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(image + ': ') and len(lines) > 2


@pytest.mark.e2e
@pytest.mark.mpi
def test_resnet_in_two_processes_ends_with_the_weights_of_one(
        tmp_path, data_dir):
    config = write_config(tmp_path, data_dir)
    extra = RESNET + ['--set', 'train.batch_size=2']
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    script = os.path.join(ROOT, 'train_chainer.py')
    for command, out in (([sys.executable], one),
                         ([MPIEXEC, '-n', '2', sys.executable], two)):
        done = subprocess.run(
            command + [script] + args(config, out, *extra) +
            (['--communicator', 'naive'] if out == two else []),
            cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    got, _ = params(os.path.join(two, 'model.npz'))
    want, _ = params(os.path.join(one, 'model.npz'))
    for name in want:
        # Two processes sum their halves' gradients in another order.
        numpy.testing.assert_allclose(got[name], want[name], rtol=0,
                                      atol=1e-6, err_msg=name)
