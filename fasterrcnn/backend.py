"""Which array module holds the data, and whether a GPU can be used."""

import chainer
import numpy


def get_array_module(*args):
    """numpy or cupy, whichever holds ``args`` (Variables are looked into)."""
    return chainer.backend.get_array_module(*args)


def gpu_available():
    """True only when cupy imports *and* sees at least one CUDA device.

    ``chainer.backends.cuda.available`` is True whenever cupy imports, also on
    a machine without a usable device, so the device count is asked for.
    """
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def to_cpu(array):
    """A NumPy copy (or the array itself) of a NumPy or CuPy array."""
    if isinstance(array, numpy.ndarray) or array is None:
        return array
    return chainer.backends.cuda.to_cpu(array)
