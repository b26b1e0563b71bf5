"""The demo's command line (``python -m fasterrcnn.demo``); the demo's run
itself is what ``make demo`` does, and its steps are tested as commands."""

import os

import pytest

from fasterrcnn import demo


def test_missing_config_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / 'out'
    with pytest.raises(SystemExit) as info:
        demo.main(['--out', str(out), '--config', str(tmp_path / 'no.yaml')])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert 'no.yaml: no such file' in err
    assert not out.exists()


@pytest.mark.parametrize('given, expected', [
    (None, os.path.join(demo.ROOT, 'configs', 'shapes.yaml')),
    (os.path.join(demo.ROOT, 'configs', 'shapes_resnet.yaml'),
     os.path.join(demo.ROOT, 'configs', 'shapes_resnet.yaml'))])
def test_config_reaches_training_and_evaluation(
        tmp_path, monkeypatch, given, expected):
    calls = []

    def fake_run(step, argv):
        calls.append((step, argv))
        if step == 'eval':
            (tmp_path / 'out' / 'eval.json').write_text('{"map_voc07": 0.5}')
        return 0.

    (tmp_path / 'out').mkdir()
    monkeypatch.setattr(demo, 'run', fake_run)
    monkeypatch.setattr(demo, 'make_data', lambda data_dir: 0.)
    argv = ['--out', str(tmp_path / 'out')]
    if given:
        argv += ['--config', given]
    assert demo.main(argv) == 0
    assert [step for step, _ in calls] == ['train', 'eval']
    for _, args in calls:
        assert args[args.index('--config') + 1] == expected
