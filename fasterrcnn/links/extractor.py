"""What Faster R-CNN needs of a feature extractor (a backbone's first half).

An extractor is a :class:`chainer.Link` called as ``extractor(x)`` on
``(N, 3, H, W)`` prepared images, returning one ``(N, C, H', W')`` feature
map; that is chainercv's whole contract, and any such link works. It may
also declare, as attributes and methods:

``feat_stride`` (int)
    input pixels per feature cell (16 for VGG16's four poolings); the
    model's input-size check reads it, and a backbone's model builds its RPN
    and RoI head from it. Without it the RPN's ``feat_stride`` is used.
``out_channels`` (int)
    ``C``, which the backbone's model sizes its RPN and head by.
``frozen_links()``
    the links the optimizer must not update (Faster R-CNN, sec. 3.3: the
    first layers of a pretrained extractor are kept fixed); none without it.
``output_sizes(sizes)`` and ``extractor(x, sizes)``
    padded batches (:mod:`fasterrcnn.data.batch`): ``sizes`` is ``(N, 2)``
    int, each image's own ``(H_i, W_i)`` in ``x``; ``output_sizes`` maps
    them to each image's own ``(H'_i, W'_i)`` cells of the output, and the
    call keeps every image's features what they are alone. An extractor
    without ``output_sizes`` gets one image per call (``predict`` runs the
    images one by one; the train chain needs batch size 1).
"""


def feat_stride(extractor, rpn):
    """Input pixels per feature cell: the extractor's ``feat_stride``, else
    the RPN's; None when neither declares one (chainercv's test doubles)."""
    for link in (extractor, rpn):
        stride = getattr(link, 'feat_stride', None)
        if stride is not None:
            return int(stride)
    return None


def frozen_links(extractor):
    """The links of ``extractor`` the optimizer must not update."""
    frozen = getattr(extractor, 'frozen_links', None)
    return list(frozen()) if callable(frozen) else []


def supports_padding(extractor):
    """Whether ``extractor`` takes padded batches (``output_sizes``)."""
    return callable(getattr(extractor, 'output_sizes', None))


def check_input_size(img_size, stride):
    """Raise a clear error for a network input smaller than one stride.

    Below one stride a side floors to an empty feature map, on which no
    anchor exists. ``prepare`` never makes such an input; a caller feeding
    the network directly can.

    Args:
        img_size (pair of ints): ``(H, W)`` of one image.
        stride (int or None): input pixels per feature cell (None: no
            check).
    """
    if stride is not None and min(img_size) < stride:
        raise ValueError(
            'the network input is {}x{} pixels: each side needs at least {} '
            '(one feature cell); resize the image first (prepare does)'
            .format(img_size[0], img_size[1], stride))
