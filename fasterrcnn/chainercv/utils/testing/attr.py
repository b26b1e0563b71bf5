"""Test markers, as ``chainercv.utils.testing.attr``: ``gpu`` and ``slow``
are chainer's, ``mpi`` also skips the test where mpi4py is missing."""

import importlib.util
import unittest

from chainer.testing.attr import gpu, slow  # noqa: F401


def mpi(test):
    """Mark ``test`` as needing MPI; skip it without mpi4py."""
    # pytest only where a test is being marked, not at import.
    import pytest
    available = importlib.util.find_spec('mpi4py') is not None
    return unittest.skipUnless(available, 'mpi4py is not installed')(
        pytest.mark.mpi(test))
