"""DetectionVOCEvaluator with a fake detector."""

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest
from chainer import training

from fasterrcnn.evaluation.evaluator import DetectionVOCEvaluator

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
    evaluator = DetectionVOCEvaluator(iterator(dataset), target,
                                      label_names=LABEL_NAMES)
    for _ in range(2):  # the iterator is reset for each run
        # Called outside a Trainer, the extension has no name, so no
        # 'validation/' prefix; NaN classes (bird) are not reported.
        result = evaluator()
        assert result == {'main/map': 1.0,
                          'main/ap/cat': 1.0,
                          'main/ap/dog': 1.0}
    assert target.calls == 5 * 2  # one predict per image, 5 images, twice


def test_wrong_boxes_score_zero_and_names_default_to_numbers():
    dataset = make_dataset()
    evaluator = DetectionVOCEvaluator(iterator(dataset),
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
    trainer.extend(DetectionVOCEvaluator(iterator(dataset),
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
