"""draw_detections writes a PNG with the boxes where they belong."""

import numpy
import pytest
from PIL import Image

from fasterrcnn.visualize import draw_detections


def test_png_with_solid_and_dashed_boxes(tmp_path):
    img = numpy.zeros((3, 60, 80), dtype=numpy.float32)
    path = str(tmp_path / 'det.png')
    fig = draw_detections(
        img, numpy.array([[10, 20, 30, 50]], dtype=numpy.float32),
        numpy.array([1], dtype=numpy.int32),
        score=numpy.array([0.87], dtype=numpy.float32),
        label_names=('a', 'b'),
        gt_bbox=numpy.array([[40, 4, 56, 76]], dtype=numpy.float32),
        gt_label=numpy.array([0], dtype=numpy.int32), path=path)
    assert fig is not None
    with Image.open(path) as f:
        png = numpy.asarray(f.convert('RGB')).astype(int)
    assert png.shape == (60, 80, 3)  # one PNG pixel per image pixel
    lit = png.sum(axis=2) > 60
    # The predicted box: its right and bottom edges are solid lines.
    assert lit[14:30, 49:51].any(axis=1).all()
    assert lit[29:31, 22:49].any(axis=0).all()
    # Inside it, away from the label, the image stays black.
    assert not lit[24:27, 30:46].any()
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
        assert f.size == (30, 20)


def test_mismatched_lengths():
    img = numpy.zeros((3, 10, 10), dtype=numpy.float32)
    with pytest.raises(ValueError, match='1 boxes but 2 labels'):
        draw_detections(img, numpy.zeros((1, 4)), numpy.zeros(2, int))
    with pytest.raises(ValueError, match='scores'):
        draw_detections(img, numpy.zeros((1, 4)), numpy.zeros(1, int),
                        score=numpy.zeros(3))
    with pytest.raises(ValueError, match=r'\(3, H, W\)'):
        draw_detections(img[0], numpy.zeros((0, 4)), numpy.zeros(0, int))
