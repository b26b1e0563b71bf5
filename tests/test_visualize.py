"""draw_detections writes a PNG with the boxes where they belong, a legend
under the image, and small images enlarged."""

import numpy
import pytest
from PIL import Image

from fasterrcnn.visualize import MIN_LONG_SIDE, draw_detections

LEGEND = 48  # the height of the legend strip under the image, in pixels


def test_png_with_solid_and_dashed_boxes(tmp_path):
    img = numpy.zeros((3, 60, 80), dtype=numpy.float32)
    path = str(tmp_path / 'det.png')
    fig = draw_detections(
        img, numpy.array([[10, 20, 30, 50]], dtype=numpy.float32),
        numpy.array([1], dtype=numpy.int32),
        score=numpy.array([0.87], dtype=numpy.float32),
        label_names=('a', 'b'),
        gt_bbox=numpy.array([[40, 4, 56, 76]], dtype=numpy.float32),
        gt_label=numpy.array([0], dtype=numpy.int32), path=path,
        min_long_side=None)
    assert fig is not None
    with Image.open(path) as f:
        png = numpy.asarray(f.convert('RGB')).astype(int)
    # One PNG pixel per image pixel, the legend strip below.
    assert png.shape == (60 + LEGEND, 80, 3)
    lit = png[:60].sum(axis=2) > 60
    # The predicted box: its right and bottom edges are solid lines.
    assert lit[14:30, 49:51].any(axis=1).all()
    assert lit[29:31, 22:49].any(axis=0).all()
    # Inside it, away from the label, the image stays black.
    assert not lit[26:28, 30:46].any()
    # The ground truth's top edge is dashed: lit and dark stretches.
    top = lit[39:42, 6:74].any(axis=0)
    assert top.sum() > 20 and (~top).sum() > 10
    # Far from every box nothing is drawn.
    assert not lit[0:6, 60:80].any()


def test_without_path_and_optional_arguments(tmp_path):
    img = numpy.full((3, 20, 30), 128, dtype=numpy.float32)
    fig = draw_detections(img, numpy.zeros((0, 4), numpy.float32),
                          numpy.zeros((0,), numpy.int32),
                          gt_bbox=numpy.array([[2, 2, 10, 10]], numpy.float32))
    assert list(tmp_path.iterdir()) == []
    # The figure can still be saved by the caller.
    fig.savefig(str(tmp_path / 'later.png'))
    with Image.open(str(tmp_path / 'later.png')) as f:
        # 22 times 30 x 20: the longer side at least MIN_LONG_SIDE.
        assert MIN_LONG_SIDE == 640
        assert f.size == (660, 440 + LEGEND)


def test_small_image_enlarged_with_boxes_in_place_and_a_legend(tmp_path):
    # 256 x 192 (the size of the shapes demo's images): drawn 3 times.
    img = numpy.zeros((3, 192, 256), dtype=numpy.float32)
    path = str(tmp_path / 'det.png')
    draw_detections(
        img, numpy.array([[40, 100, 120, 200]], dtype=numpy.float32),
        numpy.array([0], dtype=numpy.int32),
        score=numpy.array([0.5], dtype=numpy.float32), label_names=('a',),
        gt_bbox=numpy.array([[150, 20, 180, 90]], dtype=numpy.float32),
        gt_label=numpy.array([0], dtype=numpy.int32), path=path)
    with Image.open(path) as f:
        png = numpy.asarray(f.convert('RGB')).astype(int)
    assert png.shape == (576 + LEGEND, 768, 3)  # the aspect ratio kept
    lit = png.sum(axis=2) > 60
    # The prediction's right edge at x = 600 and bottom edge at y = 360.
    assert lit[150:350, 598:602].any(axis=1).all()
    assert not lit[150:350, 560:590].any()
    assert lit[358:362, 330:590].any(axis=0).all()
    # The ground truth's bottom edge (y = 540) is dashed.
    bottom = lit[537:543, 70:260].any(axis=0)
    assert bottom.sum() > 60 and (~bottom).sum() > 30
    # The strip under the image is white, with dark legend lines and text.
    strip = png[576:]
    assert (strip.min(axis=2) > 240).mean() > 0.8
    assert (strip.max(axis=2) < 120).sum() > 100


def test_mismatched_lengths():
    img = numpy.zeros((3, 10, 10), dtype=numpy.float32)
    with pytest.raises(ValueError, match='1 boxes but 2 labels'):
        draw_detections(img, numpy.zeros((1, 4)), numpy.zeros(2, int))
    with pytest.raises(ValueError, match='scores'):
        draw_detections(img, numpy.zeros((1, 4)), numpy.zeros(1, int),
                        score=numpy.zeros(3))
    with pytest.raises(ValueError, match=r'\(3, H, W\)'):
        draw_detections(img[0], numpy.zeros((0, 4)), numpy.zeros(0, int))


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [
        t.get_text() for ax in fig.axes for legend in
        [ax.get_legend()] + [a for a in ax.artists] if legend is not None
        and hasattr(legend, 'get_texts') for t in legend.get_texts()]


def test_many_boxes_labels_do_not_overlap_and_classes_have_a_key():
    # --preset evaluate draws hundreds of boxes: their labels stacked on
    # one another, and nothing said which colour was which class.
    rng = numpy.random.RandomState(0)
    img = rng.uniform(0, 255, (3, 120, 160)).astype(numpy.float32)
    n = 80
    y = rng.uniform(0, 80, n)
    x = rng.uniform(0, 120, n)
    bbox = numpy.stack([y, x, y + 30, x + 30], 1)
    label = rng.randint(0, 3, n)
    score = rng.uniform(0, 1, n)
    fig = draw_detections(img, bbox, label, score,
                          label_names=('circle', 'square', 'triangle'))
    renderer = fig.canvas.get_renderer()
    image_ax = fig.axes[0]
    boxes = [t.get_window_extent(renderer) for t in image_ax.texts]
    assert 3 <= len(boxes) < n
    for i in range(len(boxes)):
        for j in range(i):
            a, b = boxes[i], boxes[j]
            overlap_w = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_h = min(a.y1, b.y1) - max(a.y0, b.y0)
            assert overlap_w <= 1 or overlap_h <= 1, (i, j)
    words = ' '.join(_texts(fig))
    for name in ('circle', 'square', 'triangle'):
        assert name in words
    assert '{} labels left out'.format(n - len(boxes)) in words
    # The highest score is always labelled.
    best = '{:.2f}'.format(score.max())
    assert any(t.get_text().endswith(best) for t in image_ax.texts)


def test_no_detections_is_said():
    img = numpy.full((3, 40, 60), 100, dtype=numpy.float32)
    fig = draw_detections(img, numpy.zeros((0, 4)), numpy.zeros(0, int),
                          numpy.zeros(0))
    assert 'no detections' in ' '.join(_texts(fig))
