"""The side-by-side comparison with the PyTorch version's recorded outputs.

Runs ``python -m fasterrcnn.compare golden`` on both golden files (full
VGG16, about 15 s each on 2 cores): every stage must be within tolerance.
"""

import os

import pytest

from fasterrcnn import compare

GOLDEN = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared',
                      'golden')


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


def test_compare_rejects_a_missing_file(capsys):
    with pytest.raises(SystemExit):
        compare.main(['golden', 'no-such-file.npz'])
    assert 'no such golden file' in capsys.readouterr().err
