"""chainercv's evaluation pattern around a detector, on
fasterrcnn.chainercv: ``apply_to_iterator(model.predict, SerialIterator(
dataset, 2, repeat=False, shuffle=False), hook=ProgressHook(len(
dataset)))`` feeding ``eval_detection_voc``, in this process with a tiny
model and as an unchanged script through ``python -m
fasterrcnn.chainercv``."""

import json
import os
import subprocess
import sys

import numpy
import pytest
from chainer import initializers
from chainer.iterators import SerialIterator

from fasterrcnn.chainercv.datasets import VOCBboxDataset
from fasterrcnn.chainercv.evaluations import eval_detection_voc
from fasterrcnn.chainercv.links.model.faster_rcnn import (
    FasterRCNN, RegionProposalNetwork)
from fasterrcnn.chainercv.links.model.faster_rcnn.faster_rcnn_vgg import MEAN
from fasterrcnn.chainercv.utils import ProgressHook, apply_to_iterator
from fasterrcnn.links.backbones import vgg16
from tests.chainercv import tiny_voc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def tiny_model(n_fg_class=20, seed=0):
    """chainercv's FasterRCNN of narrow VGG16 parts (milliseconds an
    image), weights drawn from ``seed``."""
    numpy.random.seed(seed)
    extractor = vgg16.VGG16((4, 4, 8, 8, 8), freeze_conv12=False,
                            cover_all=True, activ_links=True,
                            initialW=initializers.Normal(0.01))
    rpn = RegionProposalNetwork(8, 8, initialW=initializers.Normal(0.01))
    head = vgg16.VGG16RoIHead(n_fg_class + 1, in_channels=8, fc_size=16,
                              roi_size=7, spatial_scale=1. / 16)
    return FasterRCNN(extractor, rpn, head, mean=MEAN.copy(), min_size=64,
                      max_size=96)


@pytest.fixture
def voc_dir(tmp_path):
    return tiny_voc.write_tiny_voc(str(tmp_path / 'VOC2007'))


def assert_same_result(a, b):
    assert sorted(a) == sorted(b) == ['ap', 'map']
    numpy.testing.assert_array_equal(a['ap'], b['ap'])
    numpy.testing.assert_array_equal(a['map'], b['map'])


def test_apply_a_tiny_model_and_evaluate(voc_dir, capsys):
    dataset = VOCBboxDataset(voc_dir, split='test', year='2007',
                             use_difficult=True, return_difficult=True)
    model = tiny_model()
    model.use_preset('evaluate')
    # Untrained, no class reaches the preset's 0.05 (1 / 21 each): keep
    # every detection, so that there is something to evaluate.
    model.score_thresh = 0.
    iterator = SerialIterator(dataset, 2, repeat=False, shuffle=False)
    in_values, out_values, rest_values = apply_to_iterator(
        model.predict, iterator, hook=ProgressHook(len(dataset)))
    del in_values
    pred_bboxes, pred_labels, pred_scores = out_values
    gt_bboxes, gt_labels, gt_difficults = rest_values
    result = eval_detection_voc(pred_bboxes, pred_labels, pred_scores,
                                gt_bboxes, gt_labels, gt_difficults,
                                use_07_metric=True)
    line = capsys.readouterr().out.split('\r')[-1]
    assert line.startswith('5 of 5 samples, ')

    # The same as predicting the batches by hand.
    preds, gts = ([], [], []), ([], [], [])
    for start in range(0, len(dataset), 2):
        examples = dataset[start:start + 2]
        for values, more in zip(preds, model.predict(
                [img for img, _, _, _ in examples])):
            values.extend(more)
        for k, values in enumerate(gts):
            values.extend(example[k + 1] for example in examples)
    assert all(len(bbox) > 0 for bbox in preds[0])
    assert_same_result(result, eval_detection_voc(*(preds + gts),
                                                  use_07_metric=True))


SCRIPT = '''\
import json
import sys

from chainer import iterators

from chainercv.chainer_experimental.datasets.sliceable import GetterDataset
from chainercv.datasets import VOCBboxDataset
from chainercv.evaluations import eval_detection_voc
from chainercv.utils import ProgressHook, apply_to_iterator


class Oracle(object):
    """Predicts each image's ground truth (the images differ in size)."""

    def __init__(self, dataset):
        view = dataset.slice[:, ('img', 'bbox', 'label')]
        self.truth = {img.shape: (bbox, label) for img, bbox, label in view}

    def predict(self, imgs):
        bboxes = [self.truth[img.shape][0] for img in imgs]
        labels = [self.truth[img.shape][1] for img in imgs]
        scores = [[1.] * len(label) for label in labels]
        return bboxes, labels, scores


dataset = VOCBboxDataset(sys.argv[1], split='test', year='2007',
                         use_difficult=True, return_difficult=True)
assert isinstance(dataset, GetterDataset)
iterator = iterators.SerialIterator(dataset, 2, repeat=False, shuffle=False)
in_values, out_values, rest_values = apply_to_iterator(
    Oracle(dataset).predict, iterator, hook=ProgressHook(len(dataset)))
del in_values
pred_bboxes, pred_labels, pred_scores = out_values
gt_bboxes, gt_labels, gt_difficults = rest_values
result = eval_detection_voc(pred_bboxes, pred_labels, pred_scores,
                            gt_bboxes, gt_labels, gt_difficults)
print()
print(json.dumps({'map': result['map'],
                  'n_nan': int(sum(ap != ap for ap in result['ap']))}))
'''


def test_unchanged_script_through_the_alias(voc_dir, tmp_path):
    script = tmp_path / 'eval_detection.py'
    script.write_text(SCRIPT, encoding='utf-8')
    done = subprocess.run(
        [sys.executable, '-m', 'fasterrcnn.chainercv', str(script), voc_dir],
        cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True, timeout=300)
    # (Bytes: text mode would read the progress line's '\r' as a newline.)
    assert done.returncode == 0, done.stderr.decode()
    progress, report = done.stdout.decode().rstrip('\n').split('\n')
    assert [line.split(' samples,')[0]
            for line in progress.split('\r')[1:]] == [
        '2 of 5', '4 of 5', '5 of 5']
    # Predictions and ground truth paired example by example: every class
    # with an object that is not difficult is found exactly; the other 10
    # of the 15 labels up to 'person' have no AP (dog's only object is
    # difficult).
    assert json.loads(report) == {'map': 1.0, 'n_nan': 10}
