"""Shared test set-up: chainer through fasterrcnn's compat import, GPU and
MPI skips."""

import importlib.util

import pytest

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
from fasterrcnn.backend import gpu_available


def _mpi_available():
    return importlib.util.find_spec('mpi4py') is not None


def pytest_collection_modifyitems(config, items):
    gpu = gpu_available()
    mpi = _mpi_available()
    skip_gpu = pytest.mark.skip(reason='needs a CUDA device (none found)')
    skip_mpi = pytest.mark.skip(
        reason='needs mpi4py and MPI (make mpi; the main environment of '
               'make test has them)')
    for item in items:
        if 'gpu' in item.keywords and not gpu:
            item.add_marker(skip_gpu)
        if 'mpi' in item.keywords and not mpi:
            item.add_marker(skip_mpi)
