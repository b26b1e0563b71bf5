"""Scripts written for chainercv run on fasterrcnn.chainercv: one with only
its imports changed (a few training iterations of the full model), and any
script unchanged through ``python -m fasterrcnn.chainercv``."""

import json
import os
import re
import subprocess
import sys

import numpy
import pytest

from fasterrcnn.chainercv.alias import install_alias
from fasterrcnn.data.shapes import generate_shapes
from fasterrcnn.safe_npz import open_npz

EXAMPLE = os.path.join(os.path.dirname(__file__), 'example_train.py')
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
#: The shapes data set's classes renamed to VOC classes (labels 1, 2, 3),
#: since chainercv's VOCBboxDataset knows only those.
VOC_NAMES = {'circle': 'bicycle', 'square': 'bird', 'triangle': 'boat'}


def voc_shapes(path, n_train, n_test):
    """The shapes data set in the VOC layout, with VOC class names."""
    generate_shapes(str(path), n_train, n_test, seed=0, size=(96, 128))
    os.remove(os.path.join(path, 'labels.txt'))
    folder = os.path.join(path, 'Annotations')
    for name in os.listdir(folder):
        file = os.path.join(folder, name)
        with open(file, encoding='utf-8') as f:
            text = f.read()
        for old, new in VOC_NAMES.items():
            text = text.replace('<name>{}</name>'.format(old),
                                '<name>{}</name>'.format(new))
        with open(file, 'w', encoding='utf-8') as f:
            f.write(text)
    return str(path)


def run(args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable] + args, cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=900)


def with_changed_imports(source):
    """``source`` with ``chainercv`` imports taken from fasterrcnn.chainercv
    (and fasterrcnn imported first, which makes chainer importable)."""
    changed = re.sub(r'^from chainercv(\S*) import',
                     r'from fasterrcnn.chainercv\1 import', source,
                     flags=re.M)
    return 'import fasterrcnn  # noqa: F401\n' + changed


def test_only_import_lines_are_changed():
    with open(EXAMPLE, encoding='utf-8') as f:
        source = f.read()
    changed = with_changed_imports(source).splitlines()[1:]
    differ = [new for old, new in zip(source.splitlines(), changed)
              if old != new]
    assert len(differ) == 5
    assert all(line.startswith('from fasterrcnn.chainercv') for line in
               differ)


@pytest.mark.slow
def test_chainercv_example_trains_with_only_its_imports_changed(tmp_path):
    data = voc_shapes(tmp_path / 'data', n_train=4, n_test=2)
    with open(EXAMPLE, encoding='utf-8') as f:
        script = with_changed_imports(f.read())
    (tmp_path / 'train.py').write_text(script, encoding='utf-8')
    out = tmp_path / 'result'
    # 96 x 128 images brought to 192 x 256: the smallest anchors fit.
    done = run(['train.py', '--data-dir', data, '--out', str(out),
                '--iteration', '3', '--min-size', '192', '--max-size',
                '256'], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / 'log', encoding='utf-8') as f:
        log = json.load(f)
    assert [entry['iteration'] for entry in log] == [1, 2, 3]
    for key in ('main/loss', 'main/rpn_loc_loss', 'main/rpn_cls_loss',
                'main/roi_loc_loss', 'main/roi_cls_loss'):
        assert all(numpy.isfinite(entry[key]) for entry in log), key
    assert all(entry['main/rpn_cls_loss'] > 0 for entry in log)
    # ExponentialShift every iteration (3 // 2), the evaluator at the end.
    assert log[0]['lr'] == pytest.approx(1e-3)
    assert log[-1]['lr'] < log[0]['lr']
    assert 0 <= log[-1]['validation/main/map'] <= 1
    # The snapshot has chainercv's names and loads back as its weights.
    snapshot = str(out / 'snapshot_model.npz')
    with open_npz(snapshot) as npz:
        names = set(npz.files)
        fc7 = npz['head/fc7/b']
    assert 'extractor/conv1_1/conv/W' in names
    assert 'head/cls_loc/W' in names and 'rpn/score/W' in names
    from fasterrcnn.chainercv.links import FasterRCNNVGG16
    model = FasterRCNNVGG16(n_fg_class=20, pretrained_model=snapshot)
    numpy.testing.assert_array_equal(model.head.fc7.b.array, fc7)


def test_runner_runs_a_script_unchanged(tmp_path):
    script = tmp_path / 'uses_chainercv.py'
    script.write_text(
        'import sys\n'
        'import chainercv\n'
        'from chainercv.links.model.faster_rcnn import FasterRCNNTrainChain\n'
        'from chainercv.utils import non_maximum_suppression\n'
        'import fasterrcnn.chainercv\n'
        'assert chainercv is fasterrcnn.chainercv\n'
        'assert FasterRCNNTrainChain.__module__.startswith("fasterrcnn.")\n'
        'print(__name__, sys.argv[1:])\n', encoding='utf-8')
    done = run(['-m', 'fasterrcnn.chainercv', str(script), '--x', '1'],
               tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "__main__ ['--x', '1']"


def test_runner_missing_script(tmp_path):
    done = run(['-m', 'fasterrcnn.chainercv', 'nothing.py'], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count('\n') == 0
    assert 'nothing.py: no such file' in done.stderr


def test_alias_refuses_to_shadow_another_module(monkeypatch):
    other = type(sys)('cv_alias_test')
    monkeypatch.setitem(sys.modules, 'cv_alias_test', other)
    with pytest.raises(ImportError, match='already imported'):
        install_alias('cv_alias_test')


def test_alias_maps_every_public_module():
    try:
        install_alias('cv_alias_test2')
        import cv_alias_test2.links.model.faster_rcnn as faster_rcnn

        import fasterrcnn.chainercv.links.model.faster_rcnn as ours
        assert faster_rcnn is ours
        assert 'cv_alias_test2.utils.testing' in sys.modules
        assert 'cv_alias_test2.alias' not in sys.modules
    finally:
        for name in [n for n in sys.modules
                     if n.split('.')[0] == 'cv_alias_test2']:
            del sys.modules[name]
