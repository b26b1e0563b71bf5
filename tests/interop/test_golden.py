"""The side-by-side comparison with the PyTorch version's recorded outputs.

Runs ``python -m fasterrcnn.compare golden`` on both golden files (full
VGG16, about 15 s each on 2 cores): every stage must be within tolerance.
"""

import os

import numpy
import pytest

from fasterrcnn import compare
from tests.hostile import assert_payload_is_live, assert_refused, hostile_npz

GOLDEN = os.path.join(os.path.dirname(__file__), '..', 'data', 'golden')


@pytest.mark.slow
def test_compare_golden_passes_on_both_files(capsys):
    files = [os.path.join(GOLDEN, name)
             for name in ('sfr_seed0.npz', 'sfr_seed1.npz')]
    status = compare.main(['golden'] + files)
    out = capsys.readouterr().out
    assert '| NO |' not in out, out
    assert status == 0
    assert '150 of 150 stages within tolerance' in out
    for stage in ('features', 'train_rois', 'loss total_loss',
                  'grad/extractor.10.weight', 'pred_* detections',
                  'sampled targets, same seed'):
        assert '| {} |'.format(stage) in out


@pytest.mark.slow
def test_training_steps_side_by_side(capsys):
    # Recorded by `compare dump-torch` from an unmodified checkout: five
    # SGD steps of the PyTorch version's train_step.
    status = compare.main(['golden', os.path.join(GOLDEN,
                                                  'sfr_seed2_steps.npz')])
    out = capsys.readouterr().out
    assert '| NO |' not in out, out
    assert status == 0
    for stage in ('step 1 total_loss', 'step 5 roi_cls_loss',
                  'after 5 steps head.score.weight',
                  'after 5 steps head.classifier.0.weight (sample)',
                  'after 5 steps extractor.28.weight (norm)'):
        assert '| {} |'.format(stage) in out, stage


def test_compare_rejects_a_missing_file(capsys):
    assert compare.main(['golden', 'no-such-file.npz']) == 2
    assert 'no such golden file' in capsys.readouterr().err


def test_compare_refuses_a_golden_file_that_would_run_code(tmp_path, capsys):
    marker = tmp_path / 'ran'
    evil = hostile_npz(tmp_path / 'golden.npz', marker, {
        'seed': numpy.array(0)}, key='param_names')
    assert_payload_is_live(evil, marker, key='param_names')
    assert compare.main(['golden', evil]) == 2
    assert_refused(capsys.readouterr().err, evil, marker, key='param_names')


def test_compare_names_a_missing_entry(tmp_path, capsys):
    path = str(tmp_path / 'partial.npz')
    numpy.savez(path, seed=numpy.array(0))
    assert compare.main(['golden', path]) == 2
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    errors = [line for line in err.splitlines()
              if line.startswith(compare.PROG + ': error: ')]
    assert len(errors) == 1, err
    assert path in errors[0] and 'param_shapes' in errors[0]


def test_weights_from_the_checkpoint_a_golden_file_names(tmp_path):
    torch = pytest.importorskip(
        'torch', reason='torch is installed in the numpy 2 environment only')
    from fasterrcnn.interop.golden import golden_state_dict
    weights = {'rpn.score.weight': numpy.arange(6, dtype=numpy.float32)}
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'model': {k: torch.from_numpy(v) for k, v in
                          weights.items()},
                'other_info': {'best_map': numpy.float64(0.5)}}, path)
    golden = {'weights_source': numpy.array('checkpoint'),
              'checkpoint': numpy.array(path)}
    state = golden_state_dict(golden)
    assert list(state) == ['rpn.score.weight']
    numpy.testing.assert_array_equal(state['rpn.score.weight'],
                                     weights['rpn.score.weight'])
