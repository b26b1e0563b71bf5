"""Drawing detections on an image, headless.

Uses matplotlib's object interface with the Agg canvas directly, never
pyplot: it needs no display, and it leaves the process's matplotlib backend
alone (``matplotlib.use`` would change it for everyone).
"""

import math

import numpy
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from fasterrcnn.backend import to_cpu

# Qualitative colours, one per class (cycled when there are more classes).
_COLORS = ('#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4',
           '#42d4f4', '#f032e6', '#bfef45', '#fabed4', '#469990',
           '#dcbeff', '#9a6324', '#fffac8', '#800000', '#aaffc3',
           '#808000', '#ffd8b1', '#000075', '#a9a9a9', '#ffe119')
_DPI = 100
#: Images whose longer side is shorter than this many pixels are enlarged by
#: a whole factor until it is not (a 256 x 192 image is drawn 768 x 576):
#: small images give pictures too small to read.
MIN_LONG_SIDE = 640
# The strip under the image that holds the legend, in pixels: a row for
# the line styles and one for the colour of each class drawn.
_LEGEND_HEIGHT = 48
_DASHES = (0, (4, 3))
# A label's size in PNG pixels at font size 9 (DejaVu Sans, measured:
# about 6 px a character, 13 px high with its padding).
_CHAR_WIDTH, _LABEL_HEIGHT = 6.0, 13.0
# Class colours shown in the key at most; more are summed up.
_KEY_CLASSES = 10


def _name(label, label_names):
    if label_names is not None and 0 <= label < len(label_names):
        return label_names[label]
    return str(label)


def _check_boxes(bbox, label, what):
    bbox = numpy.asarray(to_cpu(bbox), dtype=numpy.float64).reshape(-1, 4)
    label = numpy.asarray(to_cpu(label), dtype=numpy.int64).reshape(-1)
    if len(bbox) != len(label):
        raise ValueError('{}: {} boxes but {} labels'.format(
            what, len(bbox), len(label)))
    return bbox, label


def _scale(height, width, min_long_side):
    """The whole factor that brings the longer side to ``min_long_side``
    (1 for an image that is large enough, or for None)."""
    if not min_long_side:
        return 1
    return max(1, int(math.ceil(min_long_side / float(max(height, width)))))


def drawn_size(height, width, min_long_side=MIN_LONG_SIDE):
    """``(width, height)`` in pixels of the picture :func:`draw_detections`
    makes of a ``height x width`` image (scaled, with the legend strip)."""
    scale = _scale(height, width, min_long_side)
    return width * scale, height * scale + _LEGEND_HEIGHT


def draw_detections(img, bbox, label, score=None, label_names=None,
                    gt_bbox=None, gt_label=None, path=None,
                    min_long_side=MIN_LONG_SIDE):
    """Draw predicted (solid) and ground-truth (dashed) boxes on an image.

    The image is drawn ``s`` times its size, ``s`` the least whole factor
    that makes its longer side at least ``min_long_side`` pixels (1 for a
    large enough image): every image pixel is an ``s x s`` square of the
    PNG, so its aspect ratio is kept and a box lies on the pixels it names.
    Under the image, a strip 48 pixels high holds the legend (solid:
    prediction with its class and score; dashed: ground truth) and the key
    of the class colours drawn, or says "no detections"; the saved PNG is
    ``s W`` wide and ``s H + 48`` high. A box's colour is its class's.
    Labels are placed from the highest score down, each at the first of
    three places (inside the box's top-left corner, above it, inside its
    bottom-left corner) where it covers no label already placed; a label
    with no free place is left out (its box stays), and the legend says how
    many were.

    Args:
        img (array): ``(3, H, W)`` float RGB in ``[0, 255]`` (clipped).
        bbox (array): ``(R, 4)`` predicted boxes,
            ``(y_min, x_min, y_max, x_max)`` in pixels of ``img``.
        label (array): ``(R,)`` int predicted labels.
        score (array): ``(R,)`` float confidences shown after the names, or
            None.
        label_names (sequence of str): class names; None shows numbers.
        gt_bbox (array): ``(G, 4)`` ground-truth boxes, same layout, or None.
        gt_label (array): ``(G,)`` int ground-truth labels (colours them);
            None draws them all in one colour.
        path (str): where to write the PNG; None writes nothing.
        min_long_side (int or None): the least longer side of the drawn
            image, in PNG pixels; None draws it at its own size.

    Returns:
        matplotlib.figure.Figure: the drawing (with an Agg canvas).
    """
    img = numpy.asarray(to_cpu(img))
    if img.ndim != 3 or img.shape[0] != 3:
        raise ValueError('img must be (3, H, W), got shape {}'.format(
            img.shape))
    _, height, width = img.shape
    bbox, label = _check_boxes(bbox, label, 'predictions')
    if score is not None:
        score = numpy.asarray(to_cpu(score), dtype=numpy.float64).reshape(-1)
        if len(score) != len(bbox):
            raise ValueError('{} boxes but {} scores'.format(
                len(bbox), len(score)))

    scale = _scale(height, width, min_long_side)
    fig_width, image_height = width * scale, height * scale
    fig_height = image_height + _LEGEND_HEIGHT
    fig = Figure(figsize=(fig_width / _DPI, fig_height / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    # The image fills the figure above the legend strip; its axes are in
    # image pixels (below), so the enlargement moves no box.
    ax = fig.add_axes((0, _LEGEND_HEIGHT / fig_height, 1,
                       image_height / fig_height))
    ax.set_axis_off()
    # extent puts pixel (r, c) on [c, c + 1] x [r, r + 1], so continuous box
    # coordinates can be drawn as they are.
    ax.imshow(numpy.clip(img, 0, 255).astype(numpy.uint8).transpose(1, 2, 0),
              extent=(0, width, height, 0), interpolation='nearest')
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    linewidth = 2 * 72.0 / _DPI  # 2 pixels, in points

    if gt_bbox is not None:
        if gt_label is None:
            gt_label = numpy.full(len(numpy.asarray(to_cpu(gt_bbox))), -1)
        gt_bbox, gt_label = _check_boxes(gt_bbox, gt_label, 'ground truth')
        for (y_min, x_min, y_max, x_max), lab in zip(gt_bbox, gt_label):
            color = 'white' if lab < 0 else _COLORS[lab % len(_COLORS)]
            ax.add_patch(Rectangle(
                (x_min, y_min), x_max - x_min, y_max - y_min, fill=False,
                edgecolor=color, linewidth=linewidth, linestyle=_DASHES))

    for (y_min, x_min, y_max, x_max), lab in zip(bbox, label):
        ax.add_patch(Rectangle(
            (x_min, y_min), x_max - x_min, y_max - y_min, fill=False,
            edgecolor=_COLORS[lab % len(_COLORS)], linewidth=linewidth))
    hidden = _labels(ax, bbox, label, score, label_names, scale,
                     (height, width))

    classes = sorted(set(int(v) for v in label))
    if gt_bbox is not None:
        classes = sorted(set(classes) | set(int(v) for v in gt_label
                                            if v >= 0))
    _legend(fig, fig_height, score is not None, gt_bbox is not None,
            linewidth, [(_name(c, label_names), _COLORS[c % len(_COLORS)])
                        for c in classes], len(bbox), hidden)
    if path is not None:
        fig.savefig(path, dpi=_DPI, format='png')
    return fig


def _labels(ax, bbox, label, score, label_names, scale, size):
    """Writes the boxes' labels where they cover no other; returns how
    many found no free place."""
    height, width = size
    order = numpy.argsort(-score, kind='stable') if score is not None \
        else numpy.arange(len(bbox))
    placed, hidden = [], 0
    for k in order:
        y_min, x_min, y_max, x_max = bbox[k]
        text = _name(label[k], label_names)
        if score is not None:
            text += ' {:.2f}'.format(score[k])
        # The label's size in image pixels (the image is drawn `scale`x).
        w = (len(text) * _CHAR_WIDTH + 4) / scale
        h = _LABEL_HEIGHT / scale
        x = min(max(x_min, 0), max(width - w, 0))
        for top in (y_min, y_min - h, y_max - h):
            top = min(max(top, 0), max(height - h, 0))
            spot = (x, top, x + w, top + h)
            if not any(spot[0] < o[2] and o[0] < spot[2] and
                       spot[1] < o[3] and o[1] < spot[3] for o in placed):
                break
        else:
            hidden += 1
            continue
        placed.append(spot)
        ax.text(spot[0], spot[1], text, fontsize=9, color='white',
                verticalalignment='top', clip_on=True,
                bbox={'facecolor': _COLORS[label[k] % len(_COLORS)],
                      'edgecolor': 'none', 'pad': 1, 'alpha': 0.8})
    return hidden


def _legend(fig, fig_height, with_score, with_gt, linewidth, classes,
            n_detections, hidden):
    """The legend strip at the bottom of ``fig``: which line is which (the
    colours are the classes', so the sample lines are grey) and, below, the
    colour of each class drawn, or "no detections"."""
    ax = fig.add_axes((0, 0, 1, _LEGEND_HEIGHT / fig_height))
    ax.set_axis_off()
    handles = [Line2D([], [], color='0.3', linewidth=linewidth,
                      label='prediction: class score' if with_score
                      else 'prediction: class')]
    if with_gt:
        handles.append(Line2D([], [], color='0.3', linewidth=linewidth,
                              linestyle=_DASHES, label='ground truth'))
    if hidden:
        handles.append(Line2D([], [], color='none', label='{} label{} left '
                              'out where they would overlap'.format(
                                  hidden, '' if hidden == 1 else 's')))
    ax.add_artist(ax.legend(handles=handles, loc='upper center',
                            ncol=len(handles), frameon=False, fontsize=9,
                            handlelength=3, borderaxespad=0.1))
    if n_detections == 0:
        keys = [Patch(color='none', label='no detections')]
    else:
        keys = [Patch(color=color, label=name)
                for name, color in classes[:_KEY_CLASSES]]
        if len(classes) > _KEY_CLASSES:
            keys.append(Patch(color='none', label='+{} more classes'.format(
                len(classes) - _KEY_CLASSES)))
    ax.legend(handles=keys, loc='lower center', ncol=len(keys),
              frameon=False, fontsize=9, handlelength=1.2,
              borderaxespad=0.1, columnspacing=1.0)
