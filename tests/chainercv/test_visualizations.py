"""chainercv-compatible vis_image and vis_bbox, drawn on Agg figures."""

import numpy
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from fasterrcnn.chainercv.visualizations import vis_bbox, vis_image


def new_ax():
    """An Axes on an Agg figure that no pyplot state knows about."""
    fig = Figure()
    FigureCanvasAgg(fig)
    return fig.add_subplot(1, 1, 1)


def rectangles(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def image(height=6, width=8):
    rng = numpy.random.RandomState(0)
    return rng.uniform(0, 255, size=(3, height, width)).astype(numpy.float32)


def test_vis_image_on_given_ax():
    ax = new_ax()
    img = image()
    assert vis_image(img, ax=ax) is ax
    (shown,) = ax.get_images()
    numpy.testing.assert_array_equal(
        shown.get_array(), img.transpose(1, 2, 0).astype(numpy.uint8))
    ax.figure.canvas.draw()
    # None draws nothing.
    ax = new_ax()
    assert vis_image(None, ax=ax) is ax
    assert not ax.get_images()


def test_vis_bbox_patches_and_captions():
    ax = new_ax()
    bbox = numpy.array([[1, 2, 4, 7], [0, 0, 2, 3]], dtype=numpy.float32)
    label = numpy.array([1, 0], dtype=numpy.int32)
    score = numpy.array([0.926, 0.5], dtype=numpy.float32)
    out = vis_bbox(image(), bbox, label, score, label_names=('cat', 'dog'),
                   ax=ax)
    assert out is ax
    patches = rectangles(ax)
    assert len(patches) == 2
    # Lowest score first.
    low, high = patches
    assert low.get_xy() == (0, 0)
    assert (low.get_width(), low.get_height()) == (3, 2)
    assert high.get_xy() == (2, 1)
    assert (high.get_width(), high.get_height()) == (5, 3)
    assert not high.get_fill()
    assert high.get_linewidth() == 3.
    numpy.testing.assert_allclose(high.get_edgecolor(), (1, 0, 0, 1))
    texts = [t.get_text() for t in ax.texts]
    assert texts == ['cat: 0.50', 'dog: 0.93']
    assert ax.texts[1].get_position() == (2, 1)
    assert ax.texts[1].get_style() == 'italic'
    ax.figure.canvas.draw()


def test_vis_bbox_caption_parts_and_order():
    bbox = numpy.array([[0, 0, 1, 1], [1, 1, 3, 3]], dtype=numpy.float32)
    score = numpy.array([0.9, 0.1], dtype=numpy.float32)
    # Label without names: no caption; score only: the score.
    ax = vis_bbox(None, bbox, label=numpy.array([0, 1]), ax=new_ax())
    assert len(rectangles(ax)) == 2 and not ax.texts
    ax = vis_bbox(None, bbox, score=score, ax=new_ax())
    assert [t.get_text() for t in ax.texts] == ['0.10', '0.90']
    # Unsorted: drawn in the given order.
    ax = vis_bbox(None, bbox, score=score, sort_by_score=False, ax=new_ax())
    assert [t.get_text() for t in ax.texts] == ['0.90', '0.10']
    assert rectangles(ax)[0].get_xy() == (0, 0)


def test_vis_bbox_colors_follow_their_boxes():
    bbox = numpy.array([[0, 0, 1, 1], [1, 1, 3, 3]], dtype=numpy.float32)
    score = numpy.array([0.9, 0.1], dtype=numpy.float32)
    colors = [(0, 0, 255), (0, 255, 0)]
    ax = vis_bbox(None, bbox, score=score, instance_colors=colors,
                  alpha=0.5, linewidth=1., ax=new_ax())
    first, second = rectangles(ax)
    assert first.get_xy() == (1, 1)  # score 0.1, colour (0, 255, 0)
    numpy.testing.assert_allclose(first.get_edgecolor(), (0, 1, 0, 0.5))
    numpy.testing.assert_allclose(second.get_edgecolor(), (0, 0, 1, 0.5))
    assert first.get_linewidth() == 1.
    # Fewer colours than boxes: cycled.
    ax = vis_bbox(None, bbox, instance_colors=[(0, 0, 255)], ax=new_ax())
    for patch in rectangles(ax):
        numpy.testing.assert_allclose(patch.get_edgecolor(), (0, 0, 1, 1))


def test_vis_bbox_empty():
    ax = new_ax()
    out = vis_bbox(image(), numpy.zeros((0, 4), numpy.float32), ax=ax)
    assert out is ax and not rectangles(ax) and not ax.texts
    assert len(ax.get_images()) == 1


def test_vis_bbox_errors():
    bbox = numpy.array([[0, 0, 1, 1]], dtype=numpy.float32)
    with pytest.raises(ValueError, match='label'):
        vis_bbox(None, bbox, label=numpy.array([0, 1]), ax=new_ax())
    with pytest.raises(ValueError, match='score'):
        vis_bbox(None, bbox, score=numpy.array([0.1, 0.2]), ax=new_ax())
    with pytest.raises(ValueError, match='no name'):
        vis_bbox(None, bbox, label=numpy.array([2]), label_names=('a', 'b'),
                 ax=new_ax())
    with pytest.raises(ValueError, match='no name'):
        vis_bbox(None, bbox, label=numpy.array([-1]), label_names=('a',),
                 ax=new_ax())


def test_new_figure_through_pyplot():
    from matplotlib import pyplot
    backend = pyplot.get_backend()
    pyplot.switch_backend('Agg')
    try:
        ax = vis_bbox(image(), numpy.array([[0, 0, 2, 2]], numpy.float32))
        assert isinstance(ax.figure.canvas, FigureCanvasAgg)
        assert pyplot.gcf() is ax.figure
        assert len(rectangles(ax)) == 1
        ax = vis_image(image())
        assert len(ax.get_images()) == 1
    finally:
        pyplot.close('all')
        pyplot.switch_backend(backend)
