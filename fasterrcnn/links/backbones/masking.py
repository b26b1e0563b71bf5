"""Padded batches through a backbone: each image's valid region, and the
values outside it set to 0 wherever cells mix (a convolution's window, a
pooling), so that inside its region an image's features are those it has
alone (:mod:`fasterrcnn.links.extractor`)."""

import chainer
import numpy


def partial_sizes(x, sizes):
    """``sizes`` as an int array on the host, or None when every image
    fills ``x`` (no masking needed: the unbatched computation, exactly)."""
    if sizes is None:
        return None
    sizes = numpy.asarray(chainer.backend.CpuDevice().send(sizes),
                          dtype=numpy.int64).reshape(-1, 2)
    if (sizes == numpy.array(x.shape[2:])).all():
        return None
    return sizes


def region_mask(h, sizes):
    """``(N, 1, H, W)`` 1 inside each image's valid region of ``h`` and 0
    outside, on ``h``'s device; None when ``sizes`` is None."""
    if sizes is None:
        return None
    xp = chainer.backend.get_array_module(h)
    height, width = h.shape[2:]
    rows = numpy.arange(height)[None, :] < sizes[:, :1]
    cols = numpy.arange(width)[None, :] < sizes[:, 1:]
    mask = (rows[:, :, None] & cols[:, None, :])[:, None]
    return xp.asarray(mask, dtype=h.dtype)


def apply_mask(h, mask):
    """``h`` with the values outside the region set to 0."""
    return h if mask is None else h * mask
