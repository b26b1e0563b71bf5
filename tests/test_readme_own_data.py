"""The "Your own data" example of docs/data.md, step by step, on generated
images.

The steps are written here as docs/data.md shows them (the check at the end
compares them line by line). The images and annotations are the shapes
generator's, renamed to the guide's ``cat`` and ``dog`` (VOC names, so
that the warning about assumed VOC names can be seen), in a ``mydata/``
holding only ``JPEGImages/`` and ``Annotations/``, as a labelling tool
leaves it. Only the try of 20 iterations is run; the real run differs from
it by its length alone.
"""

import os
import re
import shlex
import shutil
import subprocess

import pytest

from fasterrcnn.cli import evaluate as eval_cli
from fasterrcnn.cli import train as train_cli
from fasterrcnn.data.shapes import generate_shapes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(ROOT, 'docs', 'data.md')
HEADING = '## Your own data'

SPLITS = r"""printf 'cat\ndog\n' > mydata/labels.txt
mkdir -p mydata/ImageSets/Main
ls mydata/Annotations | sed -n 's/\.xml$//p' | awk 'NR % 5 != 0' > mydata/ImageSets/Main/trainval.txt
ls mydata/Annotations | sed -n 's/\.xml$//p' | awk 'NR % 5 == 0' > mydata/ImageSets/Main/test.txt
"""  # noqa: E501  (as docs/data.md has them)

CONFIG = """model:
  extractor_channels: [8, 16, 32, 64, 64]
  fc_size: 128
  min_size: 192
  max_size: 256
  anchor_scales: [2, 4, 8]
  freeze_conv12: false
data:
  dir: mydata
train:
  iterations: 2000
  lr: 0.01
  lr_shift_at: [1600]
  snapshot_every: 500
  log_every: 50
eval:
  every: [1000, 2000]
"""

TRY = ('.venv/bin/python train_chainer.py --config mydata.yaml --out '
       'result/try --iterations 20')
EVALUATE = ('.venv/bin/python eval.py --model result/try/model.npz --data '
            'mydata')

NAMES = {'circle': 'cat', 'square': 'dog', 'triangle': 'dog'}


def make_image_folder(root):
    """``root/mydata`` with 10 images and their VOC XML, classes cat and
    dog, and nothing else."""
    generated = os.path.join(root, 'generated')
    generate_shapes(generated, n_train=10, n_test=0, seed=0, size=(64, 80),
                    n_objects=(1, 2), object_size=(16, 40))
    mydata = os.path.join(root, 'mydata')
    shutil.copytree(os.path.join(generated, 'JPEGImages'),
                    os.path.join(mydata, 'JPEGImages'))
    os.makedirs(os.path.join(mydata, 'Annotations'))
    for name in os.listdir(os.path.join(generated, 'Annotations')):
        with open(os.path.join(generated, 'Annotations', name)) as f:
            xml = f.read()
        xml = re.sub('<name>(\\w+)</name>',
                     lambda m: '<name>{}</name>'.format(NAMES[m.group(1)]),
                     xml)
        with open(os.path.join(mydata, 'Annotations', name), 'w') as f:
            f.write(xml)


def run(main, command, capsys):
    """A command line of the guide, run in this process: ``(status, out,
    err)``."""
    argv = shlex.split(command)
    assert argv[0] == '.venv/bin/python'
    status = main(argv[2:], prog=argv[1])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.e2e
def test_own_data_example(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_image_folder(str(tmp_path))
    with open('mydata.yaml', 'w') as f:
        f.write(CONFIG)

    # Before labels.txt and the splits: the split file is missing.
    status, _, err = run(train_cli.main, TRY, capsys)
    assert status == 2
    assert 'split file {} not found'.format(os.path.join(
        str(tmp_path), 'mydata', 'ImageSets', 'Main', 'trainval.txt')) in err

    # The splits without labels.txt: cat and dog are VOC names, so this
    # would train 20 classes; the start-up says so.
    subprocess.run(['bash', '-c', SPLITS.split('\n', 1)[1]], check=True)
    status, out, err = run(train_cli.main, TRY + ' --iterations 1',
                           capsys)
    assert status == 0
    assert 'classes: 20, from the 20 PASCAL VOC names, assumed' in out
    assert ('warning: no labels.txt in {} and no data.label_names: the '
            '20 PASCAL VOC class names are assumed and the model gets 20 '
            'classes, of which the annotations use 2 (cat, dog)'.format(
                os.path.join(str(tmp_path), 'mydata'))) in err
    shutil.rmtree('result')

    # The guide's steps as written.
    subprocess.run(['bash', '-c', SPLITS], check=True)
    with open('mydata/ImageSets/Main/test.txt') as f:
        assert f.read().split() == ['000004', '000009']
    status, out, err = run(train_cli.main, TRY, capsys)
    assert status == 0, err
    lines = out.splitlines()
    # The config's relative data.dir is relative to mydata.yaml's folder.
    mydata = os.path.join(str(tmp_path), 'mydata')
    labels = os.path.join(mydata, 'labels.txt')
    assert lines[:5] == [
        'data: {} (VOC layout)'.format(mydata),
        'classes: 2, from {}: cat, dog'.format(labels),
        lines[2], lines[3], lines[4]]
    assert re.match(r'trainval: 8 images, \d+ objects, 0 of them difficult$',
                    lines[2]), lines[2]
    assert re.match(r'test: 2 images, \d+ objects', lines[3]), lines[3]
    assert lines[4].startswith('objects per class (trainval / test): cat ')
    assert lines[-1] == (
        'model written to result/try/model.npz; evaluate it with: python '
        'eval.py --model result/try/model.npz --data {}'.format(mydata))
    warnings = [line for line in err.splitlines()
                if line.startswith('warning: ')]
    assert [w.split(' ', 2)[1] for w in warnings] == [
        'eval.every', 'train.lr_shift_at', 'train.snapshot_every',
        'train.log_every'], err
    assert 'PASCAL VOC' not in err
    assert os.path.isfile('result/try/model.npz')

    status, out, err = run(eval_cli.main, EVALUATE, capsys)
    assert status == 0, err
    assert 'cat' in out and 'dog' in out and 'mAP' in out


def section(text):
    start = text.index(HEADING)
    end = text.find('\n## ', start + len(HEADING))
    return text[start:end if end >= 0 else len(text)]


def test_guide_shows_the_example_as_run_here():
    with open(GUIDE, encoding='utf-8') as f:
        text = f.read()
    assert HEADING in text, 'docs/data.md has no "Your own data" section'
    shown = {line.strip() for line in section(text).splitlines()}
    for block in (SPLITS, CONFIG, TRY, EVALUATE):
        for line in block.strip().splitlines():
            assert line.strip() in shown, line
