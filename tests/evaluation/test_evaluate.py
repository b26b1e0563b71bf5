"""evaluate(): one predict pass scored under both VOC metrics, with fakes."""

import numpy
import pytest

from fasterrcnn.evaluation.evaluate import evaluate
from fasterrcnn.links.faster_rcnn import FasterRCNN

LABEL_NAMES = ('cat', 'dog', 'bird')  # 'bird' never occurs


class ListDataset(list):
    """Examples in a list, with the data set's class names."""

    label_names = LABEL_NAMES


def make_dataset(with_difficult=True):
    """Four images; each image's pixels hold its index, so that the fake
    model can find the example it is shown."""
    rng = numpy.random.RandomState(0)
    dataset = ListDataset()
    for i in range(4):
        img = numpy.full((3, 8, 10), i, dtype=numpy.float32)
        n = i + 1 if i < 3 else 0  # the last image has no objects
        y_x = rng.uniform(0, 40, size=(n, 2))
        bbox = numpy.hstack([y_x, y_x + rng.uniform(5, 20, size=(n, 2))])
        bbox = bbox.astype(numpy.float32)
        label = (numpy.arange(n) % 2).astype(numpy.int32)
        difficult = (numpy.arange(n) == 2) if with_difficult \
            else numpy.zeros(n, dtype=bool)
        dataset.append((img, bbox, label, difficult))
    return dataset


class FakeModel(object):
    """Predicts the ground truth (all of it, difficult objects too), or
    only the objects that ``keep(i, k)`` selects."""

    def __init__(self, dataset, keep=None):
        self.dataset = dataset
        self.keep = keep
        self.seen = []
        self.presets = []
        self.nms_thresh, self.score_thresh = 0.3, 0.7

    def use_preset(self, preset):
        self.presets.append(preset)
        self.nms_thresh, self.score_thresh = 0.3, 0.05

    # The model's own context manager, on this fake's use_preset.
    preset = FasterRCNN.preset

    def predict(self, imgs):
        assert len(imgs) == 1
        assert self.score_thresh == 0.05
        bboxes, labels, scores = [], [], []
        for img in imgs:
            i = int(img[0, 0, 0])
            self.seen.append(i)
            _, bbox, label, _ = self.dataset[i]
            mask = numpy.array([self.keep is None or self.keep(i, k)
                                for k in range(len(label))], dtype=bool)
            bboxes.append(bbox[mask])
            labels.append(label[mask])
            scores.append(numpy.linspace(0.9, 0.5, int(mask.sum()),
                                         dtype=numpy.float32))
        return bboxes, labels, scores


@pytest.mark.parametrize('with_difficult', [False, True])
def test_ground_truth_scores_one_under_both_metrics(with_difficult):
    dataset = make_dataset(with_difficult)
    model = FakeModel(dataset)
    result = evaluate(model, dataset, progress=False)
    assert sorted(result['metrics']) == ['voc', 'voc07']
    assert result['metrics']['voc07']['map'] == 1.0
    assert result['metrics']['voc']['map'] == 1.0
    for metric in ('voc07', 'voc'):
        ap = result['metrics'][metric]['ap']
        # Padded to the data set's three classes; bird has no ground truth.
        assert ap.shape == (3,) and ap.dtype == numpy.float64
        numpy.testing.assert_array_equal(ap[:2], [1.0, 1.0])
        assert numpy.isnan(ap[2])
    assert result['n_images'] == 4
    assert model.seen == [0, 1, 2, 3]
    assert len(result['pred_bboxes']) == 4
    assert result['seconds'] >= 0
    assert result['images_per_second'] > 0


def test_half_recall_gives_the_textbook_numbers():
    # The model misses one cat (image 1, object 0) and finds everything
    # else, with no false positives.
    dataset = make_dataset(with_difficult=False)
    model = FakeModel(dataset, keep=lambda i, k: not (k == 0 and i == 1))
    result = evaluate(model, dataset, progress=False)
    # cat: positives in images 0, 1 (k=0), 2 (k=0 and k=2): 4; found 3.
    # Precision 1 up to recall 3/4: 11-point -> 8/11, area -> 3/4.
    voc07, voc = result['metrics']['voc07'], result['metrics']['voc']
    assert voc07['ap'][0] == pytest.approx(8 / 11)
    assert voc['ap'][0] == pytest.approx(0.75)
    assert voc07['ap'][1] == 1.0
    assert voc['map'] == pytest.approx((0.75 + 1.0) / 2)


def test_first_n_images_and_preset_restored():
    dataset = make_dataset()
    model = FakeModel(dataset)
    result = evaluate(model, dataset, n_images=2, progress=False)
    assert result['n_images'] == 2
    assert model.seen == [0, 1]
    assert model.presets == ['evaluate']
    assert (model.nms_thresh, model.score_thresh) == (0.3, 0.7)
    # More than there are: all of them.
    assert evaluate(FakeModel(dataset), dataset, n_images=10,
                    progress=False)['n_images'] == 4
    with pytest.raises(ValueError, match='n_images'):
        evaluate(model, dataset, n_images=-1, progress=False)


def test_preset_restored_after_an_error():
    dataset = make_dataset()
    model = FakeModel(dataset)

    def broken(imgs):
        raise RuntimeError('boom')
    model.predict = broken
    with pytest.raises(RuntimeError):
        evaluate(model, dataset, progress=False)
    assert model.score_thresh == 0.7


def test_progress_on_stderr(capsys):
    dataset = make_dataset()
    evaluate(FakeModel(dataset), dataset, progress=True)
    err = capsys.readouterr().err
    assert 'eval: 4/4 images (100%)' in err
    evaluate(FakeModel(dataset), dataset, progress=False)
    assert capsys.readouterr().err == ''


def test_label_beyond_the_classes_is_an_error():
    dataset = make_dataset()
    model = FakeModel(dataset)
    inner = model.predict

    def shifted(imgs):
        bboxes, labels, scores = inner(imgs)
        return bboxes, [lab + 3 for lab in labels], scores
    model.predict = shifted
    with pytest.raises(ValueError, match='only 3 classes'):
        evaluate(model, dataset, progress=False)


def test_batches_give_the_numbers_of_one_image_at_a_time():
    from tests.support.dummy_model import random_image, tiny_model
    rng = numpy.random.RandomState(4)
    sizes = ((50, 70), (120, 40), (64, 64), (80, 100), (40, 90))
    dataset = []
    for height, width in sizes:
        bbox = numpy.array([[5, 5, height - 10, width - 10]], numpy.float32)
        dataset.append((random_image(rng, height, width), bbox,
                        numpy.array([1], numpy.int32)))
    model = tiny_model(min_size=48, max_size=96)
    model.score_thresh = 0.0
    one = evaluate(model, dataset, progress=False, batch_size=1)
    three = evaluate(model, dataset, progress=False, batch_size=3)
    assert sum(len(b) for b in one['pred_bboxes']) > 0
    for key in ('pred_bboxes', 'pred_scores'):
        for a, b in zip(one[key], three[key]):
            numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
    numpy.testing.assert_allclose(one['metrics']['voc07']['ap'],
                                  three['metrics']['voc07']['ap'])
