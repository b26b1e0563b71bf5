"""Shared test set-up: chainer through fasterrcnn's compat import, GPU skip."""

import pytest

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
from fasterrcnn.backend import gpu_available


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA device (none found)')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)
