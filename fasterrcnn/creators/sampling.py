"""Random subsampling that draws from a random state the caller owns."""

import numpy

from fasterrcnn.backend import get_array_module, to_cpu


def choice(random_state, index, size):
    """``size`` entries of ``index`` without replacement.

    Draws exactly as ``numpy.random.choice(index, size, replace=False)``
    does on the same state (a permutation of ``len(index)``, cut to
    ``size``), so with ``RandomState(seed)`` and the same order of calls the
    samples equal the PyTorch version's after ``np.random.seed(seed)``. Only
    the permutation is drawn on the host; ``index`` stays on its device.

    Args:
        random_state (numpy.random.RandomState): consumed by the draw.
        index (array): ``(K,)`` int candidates (NumPy or CuPy).
        size (int): how many to keep, ``0 <= size <= K``.

    Returns:
        array: ``(size,)`` the chosen entries, on the device of ``index``.
    """
    order = random_state.permutation(len(index))[:size]
    xp = get_array_module(index)
    return index[xp.asarray(order)]


def as_random_state(random_state):
    """A RandomState from ``None`` (a fresh, unseeded one), a seed or itself.

    The module ``numpy.random`` itself stands for numpy's global state (its
    ``permutation`` draws from it), which is where chainercv's creators
    draw: ``numpy.random.seed`` then fixes the samples.
    """
    if isinstance(random_state, numpy.random.RandomState) or \
            random_state is numpy.random:
        return random_state
    return numpy.random.RandomState(random_state)


def flatnonzero(mask):
    """``flatnonzero`` on either device (int64 indices)."""
    return get_array_module(mask).flatnonzero(mask)


def count(mask):
    """Number of True entries, as a host int."""
    return int(to_cpu(mask.sum()))


def finite_or_zero(loc):
    """``loc`` with non-finite entries set to 0.

    A degenerate ground truth box (no height or width) encodes to ``-inf``;
    such rows are never positives, so their targets are multiplied by a zero
    weight, and ``0 * inf`` would be NaN. Finite rows are left bit-identical.
    """
    xp = get_array_module(loc)
    return xp.where(xp.isfinite(loc), loc, loc.dtype.type(0))
