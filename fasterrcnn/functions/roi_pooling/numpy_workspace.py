"""Scratch memory and worker threads of the NumPy RoI pooling.

``numpy_impl`` computes; this module owns what its computation runs on,
made once and kept for the life of the process so that calls reuse them
rather than each making its own:

* :data:`workspace`: named scratch buffers that grow to the largest call
  seen and are reused (:func:`release_workspace` frees them);
* :func:`run_parallel`: one thread pool of :func:`_threads` workers that
  splits the forward into parts writing disjoint slices.

Neither knows anything of RoIs; they hold no state that changes a result.
"""

import concurrent.futures
import os

import numpy


class _Workspace(object):
    """Scratch buffers kept between calls of the NumPy twin.

    The forward's temporaries are tens of MB (the key tables, and four
    ``(R * outh * outw, C)`` int64 gathers: 60 MB each for R = 300). Fresh
    arrays that large come from ``mmap`` and are page-faulted in on every
    call, which measured 1.5 to 2.4 times slower than reusing memory
    (bench/ops.py). The buffers grow to the largest call seen;
    :func:`release_workspace` frees them.
    """

    def __init__(self):
        self._buffers = {}

    def get(self, name, shape, dtype):
        """An uninitialised C-contiguous ``shape`` array of ``dtype``: a
        view of the buffer ``name``, whose memory later ``get(name)`` calls
        hand out again (so one name serves one use at a time)."""
        dtype = numpy.dtype(dtype)
        size = int(numpy.prod(shape)) * dtype.itemsize
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = numpy.empty(size, dtype=numpy.uint8)
            self._buffers[name] = buf
        return buf[:size].view(dtype).reshape(shape)

    def clear(self):
        self._buffers.clear()


#: The buffers of the NumPy twin, one per name.
workspace = _Workspace()


def release_workspace():
    """Free the scratch memory held by the NumPy RoI pooling."""
    workspace.clear()


#: Below this many output values one thread does the work: handing it to
#: threads costs more than it saves.
_PARALLEL_MIN_SIZE = 1 << 18
_executor = None


def _threads():
    """Threads the forward uses: the cores, at most 4 (bench/ops.py prints
    it next to the timings)."""
    return min(os.cpu_count() or 1, 4)


def run_parallel(work, length, size):
    """Run ``work(part, start, stop)`` over ``[0, length)`` in threads.

    The heavy steps of the NumPy forward (``take``, ``maximum``, the bit
    operations and the transposing copy) release the GIL, so the parts run
    at once: on 2 cores this took the forward for R = 300 from 80 ms to
    about 50 ms (bench/ops.py). The parts must write disjoint slices;
    ``part`` (0, 1, ...) lets each take workspace buffers of its own.
    ``size`` is the number of output values, which decides whether threads
    pay off (:data:`_PARALLEL_MIN_SIZE`).
    """
    global _executor
    n_parts = _threads() if size >= _PARALLEL_MIN_SIZE else 1
    n_parts = max(1, min(n_parts, length))
    bounds = [length * i // n_parts for i in range(n_parts + 1)]
    if n_parts == 1:
        work(0, 0, length)
        return
    if _executor is None:
        # One pool for the process, made on first need, so that every
        # later call reuses its threads.
        _executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=_threads(), thread_name_prefix='fasterrcnn-roi-pool')
    futures = [_executor.submit(work, i, bounds[i], bounds[i + 1])
               for i in range(n_parts)]
    for future in futures:
        future.result()
