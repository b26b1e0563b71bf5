"""Live monitoring (training/monitor.py): TensorBoard event files read back
with TensorBoard's own reader, the PNGs, the confusion counts of the train
chain's record, and a run without tensorboardX."""

import io
import os
import sys

import numpy
import pytest
from PIL import Image

from fasterrcnn.config import load_config
from fasterrcnn.links import FasterRCNNTrainChain
from fasterrcnn.links.faster_rcnn import PRESETS
from fasterrcnn.training import builder
from fasterrcnn.training.monitor import (INSTALL_HINT, TargetRecord, accuracy,
                                         confusion_figure, figure_pixels)
from fasterrcnn.visualize import drawn_size
from tests.support.dummy_model import tiny_model, tiny_overrides

TINY = tiny_overrides(iterations=4, snapshot_every=4, lr_shift_at=(),
                      eval_every=(4,))
NAMES = ['circle', 'square', 'triangle']
PICTURES = ('gt_vs_pred', 'rpn_confusion', 'roi_confusion')


def train(data_dir, out, *overrides):
    config = load_config(None, ['data.dir=' + data_dir] + TINY +
                         list(overrides))
    trainer, model, _ = builder.build_trainer(config, out, progress=False)
    trainer.run()
    return trainer, model


@pytest.fixture(scope='module')
def monitored_run(data_dir, tmp_path_factory):
    pytest.importorskip(
        'tensorboard', reason='needs tensorboard and tensorboardX: '
        'pip install -r requirements/tensorboard.txt')
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    out = str(tmp_path_factory.mktemp('monitored'))
    trainer, model = train(data_dir, out, 'train.tensorboard=true',
                           'train.vis_every=2')
    # 0: keep every event (the reader samples scalars and images down).
    events = EventAccumulator(os.path.join(out, 'tensorboard'),
                              size_guidance={'scalars': 0, 'images': 0})
    events.Reload()
    return out, model, events


def steps(events, tag):
    return [event.step for event in events.Scalars(tag)]


@pytest.mark.e2e
def test_event_files_hold_every_reported_value(monitored_run):
    out, _, events = monitored_run
    scalars = set(events.Tags()['scalars'])
    for key in ('main/loss', 'main/rpn_loc_loss', 'main/rpn_cls_loss',
                'main/roi_loc_loss', 'main/roi_cls_loss', 'lr'):
        assert key in scalars, key
        assert steps(events, key) == [2, 4], key
    assert steps(events, 'validation/main/map') == [4]
    # Per-class AP under the evaluator's names, for the classes it reports.
    assert any(key.startswith('validation/main/ap/') for key in scalars)
    assert {key[len('validation/main/ap/'):] for key in scalars
            if key.startswith('validation/main/ap/')} <= set(NAMES)
    assert [event.value for event in events.Scalars('lr')] == \
        pytest.approx([0.01, 0.01])
    # What the log says is what the dashboard says (the same means).
    import json
    with open(os.path.join(out, 'log')) as f:
        log = json.load(f)
    for entry, event in zip(log, events.Scalars('main/loss')):
        assert entry['iteration'] == event.step
        assert entry['main/loss'] == pytest.approx(event.value, rel=1e-5)
    assert log[-1]['validation/main/map'] == pytest.approx(
        events.Scalars('validation/main/map')[0].value, rel=1e-5)


@pytest.mark.e2e
def test_event_files_hold_the_pictures_and_accuracies(monitored_run):
    out, model, events = monitored_run
    images = set(events.Tags()['images'])
    for name in PICTURES:
        tag = 'train/' + name
        assert tag in images
        written = events.Images(tag)
        assert [event.step for event in written] == [2, 4]
        picture = Image.open(io.BytesIO(written[-1].encoded_image_string))
        assert picture.size == (written[-1].width, written[-1].height)
        assert min(picture.size) > 50
    # The training image at its prepared size, as draw_detections draws it.
    picture = events.Images('train/gt_vs_pred')[0]
    assert (picture.width, picture.height) in (drawn_size(64, 80),
                                               drawn_size(80, 64))
    for name in ('main/rpn_accuracy', 'main/roi_accuracy'):
        assert steps(events, name) == [2, 4]
        assert all(0 <= event.value <= 1 for event in events.Scalars(name))
    # The PNGs of headless runs, and predict's thresholds given back.
    for iteration in (2, 4):
        for name in PICTURES:
            path = os.path.join(out, 'vis', 'iter_{:06d}_{}.png'.format(
                iteration, name))
            with Image.open(path) as picture:
                assert picture.format == 'PNG'
    assert not [name for name in os.listdir(os.path.join(out, 'vis'))
                if name.endswith('.tmp')]
    assert (model.nms_thresh, model.score_thresh) == PRESETS['evaluate']


def test_confusion_counts_by_hand():
    record = TargetRecord(n_class=3)
    # Anchors: labels 1, 0, -1 (not sampled), 1, 0; arg-max 1, 1, 0, 0, 0.
    gt_rpn = numpy.array([1, 0, -1, 1, 0], numpy.int32)
    rpn_score = numpy.array([[0, 1], [0, 2], [5, 0], [3, 1], [1, 0]],
                            numpy.float32)
    # RoIs: labels 0, 2, 2, 1; arg-max 0, 2, 1, 1.
    gt_roi = numpy.array([0, 2, 2, 1], numpy.int32)
    roi_score = numpy.array([[9, 0, 0], [0, 0, 9], [0, 9, 0], [0, 9, 0]],
                            numpy.float32)
    record.add(gt_rpn, rpn_score, gt_roi, roi_score)
    numpy.testing.assert_array_equal(record.rpn, [[1, 1], [1, 1]])
    numpy.testing.assert_array_equal(
        record.roi, [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    record.add(gt_rpn, rpn_score, gt_roi, roi_score)
    numpy.testing.assert_array_equal(record.rpn, [[2, 2], [2, 2]])
    assert accuracy(record.rpn) == 0.5
    assert accuracy(record.roi) == 0.75
    record.reset()
    assert record.rpn.sum() == record.roi.sum() == 0
    assert numpy.isnan(accuracy(record.roi))


def test_the_chain_counts_its_sampled_targets():
    rng = numpy.random.RandomState(0)
    img = rng.uniform(-1, 1, (2, 3, 64, 96)).astype(numpy.float32)
    bbox = numpy.array([[[10, 10, 40, 50], [20, 40, 60, 90]]] * 2,
                       numpy.float32)
    label = numpy.array([[0, 2]] * 2, numpy.int32)
    plain = FasterRCNNTrainChain(tiny_model(), random_state=3)
    chain = FasterRCNNTrainChain(tiny_model(), random_state=3)
    record = TargetRecord(chain.faster_rcnn.n_class)
    chain.observers.append(record)
    targets = {'rpn': [], 'roi': []}
    anchor_targets = chain.anchor_target_creator
    proposal_targets = chain.proposal_target_creator

    def spy_anchor(*args):
        result = anchor_targets(*args)
        targets['rpn'].append(result[1])
        return result

    def spy_proposal(*args):
        result = proposal_targets(*args)
        targets['roi'].append(result[2])
        return result

    chain.anchor_target_creator = spy_anchor
    chain.proposal_target_creator = spy_proposal
    loss = chain(img, bbox, label, numpy.array([1.0, 1.0]))
    # Nothing else changes.
    assert float(loss.array) == float(
        plain(img, bbox, label, numpy.array([1.0, 1.0])).array)
    # Each target label counted once, in its row (-1: not sampled).
    rpn = numpy.concatenate(targets['rpn'])
    numpy.testing.assert_array_equal(
        record.rpn.sum(axis=1), numpy.bincount(rpn[rpn >= 0], minlength=2))
    roi = numpy.concatenate(targets['roi'])
    numpy.testing.assert_array_equal(
        record.roi.sum(axis=1), numpy.bincount(roi, minlength=4))
    example_img, example_bbox, example_label = record.example
    numpy.testing.assert_array_equal(example_img, img[0])
    numpy.testing.assert_array_equal(example_bbox, bbox[0])
    numpy.testing.assert_array_equal(example_label, label[0])


def test_confusion_figure_has_labels_and_counts():
    fig = confusion_figure(numpy.array([[5, 1], [2, 7]]), ['bg', 'obj'],
                           'title')
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.texts] == ['5', '1', '2', '7']
    assert [t.get_text() for t in ax.get_xticklabels()] == ['bg', 'obj']
    assert figure_pixels(fig).dtype == numpy.uint8


@pytest.mark.e2e
def test_without_tensorboardx_the_run_says_so_once_and_goes_on(
        data_dir, tmp_path, monkeypatch, capsys):
    # None in sys.modules: `import tensorboardX` raises ImportError.
    monkeypatch.setitem(sys.modules, 'tensorboardX', None)
    out = str(tmp_path)
    trainer, _ = train(data_dir, out, 'train.tensorboard=true',
                       'train.vis_every=2')
    assert trainer.updater.iteration == 4
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if 'tensorboardX' in line]
    assert len(warnings) == 1
    assert INSTALL_HINT in warnings[0]
    assert 'pip install ".[tensorboard]"' in warnings[0]
    assert not os.path.exists(os.path.join(out, 'tensorboard'))
    assert sorted(os.listdir(os.path.join(out, 'vis'))) == sorted(
        'iter_{:06d}_{}.png'.format(i, name)
        for i in (2, 4) for name in PICTURES)


def test_nothing_is_added_when_monitoring_is_off(data_dir, tmp_path):
    config = load_config(None, ['data.dir=' + data_dir] + TINY)
    trainer, _, _ = builder.build_trainer(config, str(tmp_path),
                                          progress=False)
    assert 'training_monitor' not in trainer._extensions
    chain = trainer.updater.get_optimizer('main').target
    assert chain.observers == []
