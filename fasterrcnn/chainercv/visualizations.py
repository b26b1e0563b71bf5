"""chainercv's matplotlib views of an image and of its detections.

:func:`vis_image` and :func:`vis_bbox` with the names, signatures, defaults
and drawing of ``chainercv.visualizations``. matplotlib is imported only when
one of them is called (pyplot only when a new figure is needed), as chainercv
imports it lazily too.
"""

import numpy


def vis_image(img, ax=None):
    """Show a CHW RGB image on a matplotlib Axes.

    As chainercv: without ``ax`` a new pyplot figure with one subplot is
    made; the image is cast to uint8 (no clipping) and drawn with
    ``imshow``.

    Args:
        img (numpy.ndarray): ``(3, H, W)`` float32 RGB image in
            ``[0, 255]``; None draws no image.
        ax (matplotlib.axes.Axes): where to draw; None makes a new figure.

    Returns:
        matplotlib.axes.Axes: the Axes drawn on.
    """
    if ax is None:
        from matplotlib import pyplot
        ax = pyplot.figure().add_subplot(1, 1, 1)
    if img is not None:
        ax.imshow(img.transpose((1, 2, 0)).astype(numpy.uint8))
    return ax


def vis_bbox(img, bbox, label=None, score=None, label_names=None,
             instance_colors=None, alpha=1., linewidth=3.,
             sort_by_score=True, ax=None):
    """Show an image and boxes on it, with a caption per box.

    As chainercv: each box is an unfilled ``Rectangle`` patch from
    ``(x_min, y_min)`` with width ``x_max - x_min`` and height
    ``y_max - y_min``; its caption, written in italics at ``(x_min, y_min)``
    on a white half-transparent pad, is ``'name: 0.93'`` (the parts that are
    given: the name needs both ``label`` and ``label_names``, the score is
    written with two decimals); boxes are red unless ``instance_colors`` is
    given (box ``i`` takes colour ``i % len(instance_colors)``). With
    ``sort_by_score`` and a ``score`` the boxes are drawn in order of
    increasing score, so that higher scores end up on top (colours move with
    their boxes).

    Args:
        img (numpy.ndarray): ``(3, H, W)`` float32 RGB image in
            ``[0, 255]``; None draws boxes only.
        bbox (numpy.ndarray): ``(R, 4)`` float32 boxes,
            ``(y_min, x_min, y_max, x_max)`` in pixels of ``img``.
        label (numpy.ndarray): ``(R,)`` int32 labels in
            ``[0, len(label_names))``, or None.
        score (numpy.ndarray): ``(R,)`` float32 scores, or None.
        label_names (sequence of str): name of each label, or None (no
            names in the captions).
        instance_colors (sequence): ``(N, 3)`` RGB colours in ``[0, 255]``,
            one per box (cycled when fewer), or None for red.
        alpha (float): opacity of the box edges, in ``[0, 1]``.
        linewidth (float): width of the box edges in points.
        sort_by_score (bool): draw low scores first (see above).
        ax (matplotlib.axes.Axes): where to draw; None makes a new figure.

    Returns:
        matplotlib.axes.Axes: the Axes drawn on.

    Raises:
        ValueError: ``label`` or ``score`` does not have one entry per box,
            or a label has no name in ``label_names``.
    """
    from matplotlib.patches import Rectangle

    if label is not None and len(label) != len(bbox):
        raise ValueError('vis_bbox: label has {} entries for {} boxes; '
                         'give one per box'.format(len(label), len(bbox)))
    if score is not None and len(score) != len(bbox):
        raise ValueError('vis_bbox: score has {} entries for {} boxes; '
                         'give one per box'.format(len(score), len(bbox)))
    if sort_by_score and score is not None:
        order = numpy.argsort(score)
        bbox = bbox[order]
        score = score[order]
        if label is not None:
            label = label[order]
        if instance_colors is not None:
            instance_colors = numpy.asarray(instance_colors)[order]

    ax = vis_image(img, ax=ax)
    if len(bbox) == 0:
        return ax

    if instance_colors is None:
        instance_colors = numpy.zeros((len(bbox), 3), dtype=numpy.float32)
        instance_colors[:, 0] = 255
    instance_colors = numpy.asarray(instance_colors)

    for i, (y_min, x_min, y_max, x_max) in enumerate(bbox):
        color = instance_colors[i % len(instance_colors)] / 255
        ax.add_patch(Rectangle(
            (x_min, y_min), x_max - x_min, y_max - y_min, fill=False,
            edgecolor=color, linewidth=linewidth, alpha=alpha))

        caption = []
        if label is not None and label_names is not None:
            lb = label[i]
            if not 0 <= lb < len(label_names):
                raise ValueError(
                    'vis_bbox: label {} has no name ({} label_names)'.format(
                        lb, len(label_names)))
            caption.append(label_names[lb])
        if score is not None:
            caption.append('{:.2f}'.format(score[i]))
        if caption:
            ax.text(x_min, y_min, ': '.join(caption), style='italic',
                    bbox={'facecolor': 'white', 'alpha': 0.7, 'pad': 10})
    return ax
