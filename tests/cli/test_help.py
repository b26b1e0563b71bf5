"""Every command's --help, in this process (the scripts and installed
commands themselves are run once each by their own test files)."""

import pytest

from fasterrcnn.cli import convert_data, evaluate, fetch, predict, train


@pytest.mark.parametrize('module, flags', [
    (train, ('--resume', '--help-config', '--fresh')),
    (evaluate, ('--model', '--vis-dir', '--metric')),
    (predict, ('--model', '--skip-bad', '--batch-size')),
    (convert_data, ('voc2coco', 'coco2voc')),
    (fetch, ('--list', '--to')),
])
def test_help_lists_the_flags(module, flags, capsys):
    # run_command turns argparse's exit into the status it returns.
    assert module.main(['--help']) == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: fasterrcnn-')
    for flag in flags:
        assert flag in out
