"""DetectionEvaluator with a fake detector."""

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest
from chainer import training

from fasterrcnn.evaluation.evaluator import DetectionEvaluator
from tests.support.thread_comm import group, run_ranks

LABEL_NAMES = ('cat', 'dog', 'bird')  # 'bird' never occurs


def make_dataset(with_difficult=False):
    """Five examples; each image's pixels hold its index, so the fake
    detector can find the example it is shown."""
    rng = numpy.random.RandomState(0)
    dataset = []
    for i in range(5):
        img = numpy.full((3, 8, 10), i, dtype=numpy.float32)
        n = i % 4  # includes images without objects
        y_x = rng.uniform(0, 40, size=(n, 2))
        bbox = numpy.hstack([y_x, y_x + rng.uniform(5, 20, size=(n, 2))])
        bbox = bbox.astype(numpy.float32)
        label = (numpy.arange(n) % 2).astype(numpy.int32)
        if with_difficult:
            difficult = numpy.arange(n) == 2
            dataset.append((img, bbox, label, difficult))
        else:
            dataset.append((img, bbox, label))
    return dataset


class FakeDetector(chainer.Link):
    """Predicts the non-difficult ground truth, optionally shifted."""

    def __init__(self, dataset, shift=0.0):
        super(FakeDetector, self).__init__()
        self.dataset = dataset
        self.shift = shift
        self.calls = 0

    def predict(self, imgs):
        self.calls += 1
        assert not chainer.config.train
        bboxes, labels, scores = [], [], []
        for img in imgs:
            example = self.dataset[int(img[0, 0, 0])]
            keep = ~example[3] if len(example) > 3 else slice(None)
            bboxes.append(example[1][keep] + self.shift)
            labels.append(example[2][keep])
            scores.append(numpy.ones(len(labels[-1]), dtype=numpy.float32))
        return bboxes, labels, scores


def iterator(dataset):
    return chainer.iterators.SerialIterator(
        dataset, batch_size=2, repeat=False, shuffle=False)


@pytest.mark.parametrize('with_difficult', [False, True])
def test_ground_truth_scores_one(with_difficult):
    dataset = make_dataset(with_difficult)
    target = FakeDetector(dataset)
    evaluator = DetectionEvaluator(iterator(dataset), target,
                                   label_names=LABEL_NAMES)
    for _ in range(2):  # the iterator is reset for each run
        # Called outside a Trainer, the extension has no name, so no
        # 'validation/' prefix; NaN classes (bird) are not reported.
        result = evaluator()
        assert result == {'main/map': 1.0,
                          'main/ap/cat': 1.0,
                          'main/ap/dog': 1.0}
    # One predict per batch of the iterator (2, 2 and 1 images), twice.
    assert target.calls == 3 * 2


def test_wrong_boxes_score_zero_and_names_default_to_numbers():
    dataset = make_dataset()
    evaluator = DetectionEvaluator(iterator(dataset),
                                   FakeDetector(dataset, shift=100.0),
                                   use_07_metric=True)
    result = evaluator()
    assert result == {'main/map': 0.0,
                      'main/ap/0': 0.0,
                      'main/ap/1': 0.0}


def test_reported_in_a_trainer(tmp_path):
    dataset = make_dataset()
    model = L.Linear(1, 1)
    optimizer = chainer.optimizers.SGD()
    optimizer.setup(model)
    train_iter = chainer.iterators.SerialIterator(
        [numpy.ones(1, dtype=numpy.float32)] * 2, batch_size=1)
    updater = training.updaters.StandardUpdater(
        train_iter, optimizer, loss_func=lambda x: F.sum(model(x)))
    trainer = training.Trainer(updater, (2, 'iteration'), out=str(tmp_path))
    trainer.extend(DetectionEvaluator(iterator(dataset),
                                      FakeDetector(dataset),
                                      label_names=LABEL_NAMES),
                   trigger=(1, 'iteration'))
    log = training.extensions.LogReport(trigger=(1, 'iteration'))
    trainer.extend(log)
    trainer.run()
    assert len(log.log) == 2
    assert log.log[-1]['validation/main/map'] == 1.0
    assert log.log[-1]['validation/main/ap/dog'] == 1.0
    assert 'validation/main/ap/bird' not in log.log[-1]


def test_report_all_names_as_chainercv():
    dataset = make_dataset()
    evaluator = DetectionEvaluator(iterator(dataset),
                                   FakeDetector(dataset),
                                   label_names=LABEL_NAMES + ('fish',),
                                   report_all_names=True)
    result = evaluator()
    assert sorted(result) == ['main/ap/bird', 'main/ap/cat', 'main/ap/dog',
                              'main/ap/fish', 'main/map']
    assert result['main/ap/cat'] == result['main/ap/dog'] == 1.0
    # bird: no ground truth; fish: beyond every label seen.
    assert numpy.isnan(result['main/ap/bird'])
    assert numpy.isnan(result['main/ap/fish'])
    # Without names, chainercv reports the mean only.
    evaluator = DetectionEvaluator(iterator(dataset),
                                   FakeDetector(dataset),
                                   report_all_names=True)
    assert evaluator() == {'main/map': 1.0}


@pytest.mark.parametrize('size,batch_size', [(2, 2), (3, 2), (2, 5)])
def test_comm_splits_the_work_and_rank_0_reports(size, batch_size):
    # 5 images in batches of 2 (2, 2, 1) or one of 5, over 2 or 3 ranks:
    # shares of unequal size and empty shares both occur.
    dataset = make_dataset(with_difficult=True)
    expected = DetectionEvaluator(iterator(dataset), FakeDetector(
        dataset, shift=3.0), label_names=LABEL_NAMES)()
    targets = [FakeDetector(dataset, shift=3.0) for _ in range(size)]
    comms = group(size)
    evaluators = [DetectionEvaluator(
        chainer.iterators.SerialIterator(dataset, batch_size, repeat=False,
                                         shuffle=False) if rank == 0
        else None, targets[rank], label_names=LABEL_NAMES, comm=comms[rank])
        for rank in range(size)]
    results = run_ranks([evaluator for evaluator in evaluators])
    assert results[0] == expected
    assert 0 < expected['main/map'] < 1
    assert all(result == {} for result in results[1:])
    # Every image predicted once, by some rank; the longer shares first.
    calls = [t.calls for t in targets]
    assert sum(calls) == len(dataset)
    assert calls == sorted(calls, reverse=True) and calls[1] > 0
