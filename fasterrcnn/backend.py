"""Which array module holds the data, whether a GPU can be used, and
Chainer's settings on another thread."""

import contextlib
import ctypes
import ctypes.util
import sys

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


def caller_config():
    """The calling thread's own ``chainer.config`` entries (set with
    ``chainer.config.x = ...`` or ``using_config``), a dict. They are
    thread-local (Chainer 7's ``LocalConfig`` keeps them in its
    ``_local``): a thread that works for the caller must be handed them
    (:func:`using_settings`), or it sees the global ones only."""
    local = getattr(chainer.config, '_local', None)
    return dict(vars(local)) if local is not None else {}


@contextlib.contextmanager
def using_settings(settings):
    """Within the block this thread's ``chainer.config`` has ``settings``
    (a dict of :func:`caller_config`); its own come back after it."""
    with contextlib.ExitStack() as stack:
        for name, value in settings.items():
            stack.enter_context(chainer.using_config(name, value))
        yield


def with_caller_settings(call):
    """``call`` (no arguments) as a function that runs it, on whichever
    thread, under the settings of the thread that wraps it here
    (:func:`caller_config`, read now)."""
    settings = caller_config()

    def run():
        with using_settings(settings):
            return call()
    return run


def float_dtype():
    """The float dtype the creators and box decoding compute in.

    Chainer's ``dtype`` setting when it is float64 (the float64 parity run
    of ``compare --dtype float64``), else float32: every other setting
    (float32, float16, mixed16) keeps the targets in float32, as before.
    """
    if numpy.dtype(chainer.config.dtype) == numpy.float64:
        return numpy.dtype(numpy.float64)
    return numpy.dtype(numpy.float32)


def to_cpu(array):
    """A NumPy copy (or the array itself) of a NumPy or CuPy array."""
    if isinstance(array, numpy.ndarray) or array is None:
        return array
    return chainer.backends.cuda.to_cpu(array)


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(threshold=1 << 30):
    """Let glibc reuse freed memory for large arrays instead of unmapping it.

    By default glibc serves every allocation above 32 MB (less before its
    threshold adapts) with a fresh ``mmap`` and gives it back on ``free``, so
    each training step page-faults its large temporaries in again. Raising
    the mmap and trim thresholds keeps that memory in the heap for the next
    step: RoI pooling forward+backward at R = 300 went from about 120 ms to
    about 100 ms (bench/ops.py). The process keeps its peak memory.

    Called by the training, evaluation and benchmark scripts, never on
    import. Returns True when the setting took effect (glibc only).
    """
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, threshold))
