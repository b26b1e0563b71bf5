"""A COCO-format copy of the tiny shapes data trains and evaluates with the
COCO metric, and scores the VOC-layout copy's VOC mAP."""

import json
import os
import shutil

import pytest

from fasterrcnn.cli import evaluate as eval_cli
from fasterrcnn.cli import train as train_cli
from fasterrcnn.data.coco import voc_to_coco
from fasterrcnn.data.shapes import LABEL_NAMES
from fasterrcnn.weights.model_io import save_model
from tests.support.dummy_model import tiny_model
from tests.support.tiny_run import TINY

pytestmark = pytest.mark.e2e

pytest.importorskip('pycocotools')


@pytest.fixture(scope='module')
def coco_dir(data_dir, tmp_path_factory):
    """The shapes data as COCO: the images and annotations/{train,test}.
    json (file names JPEGImages/<id>.jpg)."""
    root = str(tmp_path_factory.mktemp('coco'))
    shutil.copytree(os.path.join(data_dir, 'JPEGImages'),
                    os.path.join(root, 'JPEGImages'))
    os.mkdir(os.path.join(root, 'annotations'))
    for name, split in (('train', 'trainval'), ('test', 'test')):
        with open(os.path.join(root, 'annotations', name + '.json'), 'w',
                  encoding='utf-8') as f:
            json.dump(voc_to_coco(data_dir, split), f)
    return root


def coco_config(tmp_path, coco_dir):
    path = str(tmp_path / 'coco.yaml')
    with open(path, 'w', encoding='utf-8') as f:
        f.write('data:\n  dir: {}\n  format: coco\n'
                '  train_annotations: annotations/train.json\n'
                '  test_annotations: annotations/test.json\n'
                'eval:\n  metric: coco\n'.format(coco_dir))
    return path


def evaluate(capsys, *argv):
    code = eval_cli.main(list(argv) + ['--no-progress'])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_train_and_evaluate_coco_copy(tmp_path, data_dir, coco_dir, capsys):
    config = coco_config(tmp_path, coco_dir)
    out = str(tmp_path / 'run')
    argv = ['--config', config, '--out', out, '--no-progress']
    for item in TINY:
        argv += ['--set', item]
    assert train_cli.main(argv) == 0, capsys.readouterr().err
    # The start-up summary, as for VOC: categories, labels, splits.
    started = capsys.readouterr().out
    assert '(COCO format)' in started
    assert 'category id -> label name: 1 -> 0 circle, 2 -> 1 square, ' \
        '3 -> 2 triangle' in started
    assert 'train ({}): 4 images'.format(os.path.join(
        coco_dir, 'annotations', 'train.json')) in started
    with open(os.path.join(out, 'log'), encoding='utf-8') as f:
        last = [entry for entry in json.load(f)
                if 'validation/main/map' in entry][-1]
    for key in ('ap50', 'ap75', 'ap_small', 'ap_medium', 'ap_large'):
        assert 'validation/main/coco/' + key in last
    model = os.path.join(out, 'model.npz')

    # The VOC metric of both copies: the same boxes, so the same numbers.
    records = {}
    for name, extra in (
            ('voc', ['--data', data_dir]),
            ('coco', ['--config', config])):
        path = str(tmp_path / (name + '.json'))
        evaluate(capsys, '--model', model, '--metric', 'voc07', '--out',
                 path, *extra)
        with open(path, encoding='utf-8') as f:
            records[name] = json.load(f)
    assert records['coco']['split'] == 'test'   # annotations/test.json
    for key in ('map', 'map_voc07', 'map_voc', 'ap_voc07', 'ap_voc',
                'n_images'):
        assert records['coco'][key] == records['voc'][key], key
    # Non-zero (after 6 iterations), so that the equality says something.
    assert records['voc']['map_voc'] > 0
    assert records['voc']['metric'] == 'voc07'

    # The COCO metric, as the config asks, on either copy.
    path = str(tmp_path / 'coco_metric.json')
    text = evaluate(capsys, '--model', model, '--config', config, '--out',
                    path)
    assert 'COCO metric (pycocotools' in text and 'AP75' in text
    assert '(COCO AP@[.5:.95]; the config asks for it: eval.metric is ' \
           'coco)' in text
    with open(path, encoding='utf-8') as f:
        record = json.load(f)
    assert record['metric'] == 'coco'
    assert record['map'] == record['coco']['map']
    assert set(record['coco']) == {'map', 'ap50', 'ap75', 'ap_small',
                                   'ap_medium', 'ap_large', 'ap'}
    voc_path = str(tmp_path / 'voc_coco_metric.json')
    evaluate(capsys, '--model', model, '--data', data_dir, '--metric',
             'coco', '--out', voc_path)
    with open(voc_path, encoding='utf-8') as f:
        assert json.load(f)['coco'] == record['coco']


def test_cli_errors(tmp_path, data_dir, coco_dir, capsys):
    config = coco_config(tmp_path, coco_dir)
    model = str(tmp_path / 'model.npz')
    save_model(tiny_model(), model, LABEL_NAMES)
    cases = [
        (['--config', config, '--split', 'test'],
         '--split names a VOC image set, but data.format is coco'),
        (['--data', data_dir, '--annotations', 'x.json'],
         '--annotations is for COCO-format data'),
        (['--config', config, '--set', 'data.test_annotations=nothing.json'],
         'nothing.json not found'),
    ]
    for extra, what in cases:
        code = eval_cli.main(['--model', model, '--no-progress'] + extra)
        err = capsys.readouterr()[1]
        assert code == 2
        assert what in err and err.count('\n') == 1, err
