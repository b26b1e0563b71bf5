"""bench/conv.py's --transforms on a tiny input: every layer asked for
has a row, with F(2x2), its GEMMs alone and F(4x4)."""

from tests.bench.test_train_step import _load


def test_transforms_rows(capsys):
    conv = _load('conv')
    assert conv.main(['--transforms', '--size', '16', '24', '--repeat', '1',
                      '--layers', 'conv1_2', 'conv3_2']) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith('| layer | input | F(2x2) |')
    rows = [line.split(' | ') for line in lines[2:]]
    assert [row[0] for row in rows] == ['| conv1_2', '| conv3_2']
    assert [row[1] for row in rows] == ['64x16x24', '256x4x6']
    for row in rows:
        assert 0 < float(row[4]) and row[5].endswith(') |')
