"""Scratch memory and worker threads of the NumPy RoI pooling.

``numpy_impl`` computes; this module owns what its computation runs on,
made once and kept for the life of the process so that calls reuse them
rather than each making its own:

* :data:`workspace`: named scratch buffers that grow to the largest call
  seen and are reused (:func:`release_workspace` frees them);
* :func:`run_blocks`: the forward and backward split into blocks (of
  channels) writing disjoint slices, on :func:`_threads` threads of the
  shared CPU pool (:mod:`fasterrcnn.cpu_threads`).

Neither knows anything of RoIs; they hold no state that changes a result.
"""

import itertools

import numpy

from fasterrcnn import cpu_threads as cpu_threads_module
from fasterrcnn.cpu_threads import cpu_threads


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
        view of the buffer ``name`` of this thread's lane
        (:func:`fasterrcnn.cpu_threads.lane`: jobs that run side by side,
        e.g. two images predicted at once, have buffers of their own),
        whose memory later ``get(name)`` calls of the lane hand out again
        (so one name serves one use at a time)."""
        dtype = numpy.dtype(dtype)
        size = int(numpy.prod(shape)) * dtype.itemsize
        key = (cpu_threads_module.lane(), name)
        buf = self._buffers.get(key)
        if buf is None or buf.size < size:
            buf = numpy.empty(size, dtype=numpy.uint8)
            self._buffers[key] = buf
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


def _threads():
    """Threads the forward uses: the cores, at most 4 (bench/ops.py prints
    it next to the timings)."""
    return min(cpu_threads(), 4)


def run_blocks(work, n_blocks, size):
    """Run ``work(part, block)`` for every ``block`` in ``[0, n_blocks)``
    on threads.

    The heavy steps of the NumPy forward and backward (``take``,
    ``maximum``, the bit operations, the transposing copies, ``bincount``)
    release the GIL, so the blocks run at once. Each thread takes the next
    block when it has done one, so a thread slowed by other work on its
    core (another process, a BLAS thread waiting for work) does fewer
    blocks and the call ends about when the last block does, rather than
    waiting for a fixed half. Blocks must write disjoint slices; ``part``
    (0, 1, ...) is the thread's own, so that it can take workspace buffers
    of its own. ``size`` is the number of output values, which decides
    whether threads pay off (:data:`_PARALLEL_MIN_SIZE`).
    """
    n_parts = _threads() if size >= _PARALLEL_MIN_SIZE else 1
    n_parts = max(1, min(n_parts, n_blocks))
    # Taking a number from the shared count is atomic under the GIL.
    blocks = itertools.count()

    def part_work(part):
        while True:
            block = next(blocks)
            if block >= n_blocks:
                return
            work(part, block)
    cpu_threads_module.run_parallel(part_work, n_parts)
