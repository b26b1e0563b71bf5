"""Shared set-up of the chainercv compatibility tests."""

import chainer
import pytest


@pytest.fixture
def dataset_root(tmp_path):
    """chainer's data set root moved to tmp_path for the test.

    chainer reads CHAINER_DATASET_ROOT once, when it is imported; during a
    test the root is moved with chainer.dataset.set_dataset_root.
    """
    old = chainer.dataset.get_dataset_root()
    chainer.dataset.set_dataset_root(str(tmp_path))
    yield tmp_path
    chainer.dataset.set_dataset_root(old)
