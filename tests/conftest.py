"""Shared test set-up: chainer through fasterrcnn's compat import, GPU and
MPI skips."""

import importlib.util

import pytest

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
from fasterrcnn.backend import gpu_available


def _mpi_available():
    return importlib.util.find_spec('mpi4py') is not None


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory):
    """A tiny shapes data set (4 training and 2 test images of 64 x 80)
    for the tests that train end to end: made once per session, read only
    (a test that changes data copies it first)."""
    from fasterrcnn.data.shapes import generate_shapes
    path = str(tmp_path_factory.mktemp('shapes'))
    generate_shapes(path, n_train=4, n_test=2, seed=0, size=(64, 80),
                    n_objects=(1, 2), object_size=(16, 40))
    return path


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Nothing in the suite connects beyond the loopback address: fetching
    is offline unless a test sets a mirror on 127.0.0.1 (and clears
    this)."""
    monkeypatch.setenv('FASTERRCNN_OFFLINE', '1')
    monkeypatch.delenv('FASTERRCNN_MIRROR', raising=False)


@pytest.fixture(params=['@numpy', pytest.param('@cupy:0',
                                               marks=pytest.mark.gpu)])
def device(request):
    """Each device a link test runs on, as chainercv runs its link tests:
    a :class:`chainer.backend.Device` (``.xp``, ``.send``; links move with
    ``link.to_device(device)``). The CuPy one is marked ``gpu``."""
    import chainer
    return chainer.get_device(request.param)


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
