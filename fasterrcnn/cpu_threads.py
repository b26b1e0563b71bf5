"""The CPU work of the NumPy twins, split over the cores.

NumPy's copies, ufuncs, ``take`` and ``matmul`` release the GIL, so a
computation cut into parts that write disjoint slices runs on every core
from ordinary Python threads. This module owns the one pool of such threads
(made on first need, kept for the life of the process, dropped in a forked
child where its threads do not exist) and the BLAS's own thread count while
they run:

* :func:`run_parallel` runs ``work(part)`` for every part, in the pool;
  :func:`run_slices` runs ``work(start, stop)`` for near-equal slices of
  a range (of channels, say) the same way;
* :func:`run_side_by_side` runs independent jobs (a convolution's input
  and weight gradients) at once, each on a thread of its own, their
  parts one after the other;
* with ``blas_threads=1`` the BLAS computes each part's GEMM on the calling
  thread only, so that ``T`` threads each running a GEMM use ``T`` cores
  and not ``T`` times the BLAS's threads (2 x 2 on 2 cores measured 5 to
  30 % slower than 2 x 1 for the convolution's tiles, bench/conv.py).

The thread count changes no result: every part is computed the same way
whichever thread runs it. The BLAS's own count is another matter: OpenBLAS
0.3.23 (NumPy 1.26's, its Zen kernel) gives other bits for the same
float32 or float64 product on 2 threads than on 1, and for one product
than for its rows computed as two. So the count a product runs with is
part of its result, and this module never changes it for a product that
runs outside :func:`run_parallel` and :func:`run_side_by_side`; the parts
and jobs inside always run at one.
"""

import concurrent.futures
import contextlib
import os
import threading

_executor = None
_executor_lock = threading.Lock()
#: ``serial``: this thread runs a job of :func:`run_side_by_side`, whose
#: :func:`run_parallel` calls run their parts here, one after the other;
#: ``lane``: that job's place among the jobs (:func:`lane`).
_local = threading.local()
#: The cores this process may run on, read once (None: not yet read).
_cpu_count = None
#: Callers inside a :func:`blas_threads` block, and the count to restore.
_blas_users = 0
_blas_saved = None
_blas_lock = threading.Lock()
_blas_controller = None


def cpu_threads():
    """The cores this process may run on.

    Asked of the kernel once and kept: the kernels ask for it on every call
    (about 60 times a training iteration), and a system call each time cost
    more than the answer is worth. A forked child asks again (it may be
    pinned to other cores).
    """
    global _cpu_count
    if _cpu_count is None:
        try:
            count = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            count = os.cpu_count() or 1
        _cpu_count = max(1, count)
    return _cpu_count


def _pool():
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=cpu_threads(),
                thread_name_prefix='fasterrcnn-cpu')
        return _executor


def _forget_pool_in_child():
    # A forked child (a multiprocess data loader) inherits the pool object
    # but none of its threads: work handed to it would wait forever.
    global _executor, _executor_lock, _blas_lock, _blas_users, _blas_saved
    global _cpu_count
    _executor = None
    _cpu_count = None
    _executor_lock = threading.Lock()
    _blas_lock = threading.Lock()
    _blas_users = 0
    _blas_saved = None


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def _controller():
    """threadpoolctl's controllers of the loaded BLAS libraries (a list,
    found once: the convolution calls :func:`run_parallel` with ``blas``
    about 30 times an iteration, and asking threadpoolctl each time was a
    large share of each call's fixed cost), or None."""
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas_controller = ThreadpoolController().select(
                user_api='blas').lib_controllers or False
        except Exception:  # not installed or no BLAS found: leave it be
            _blas_controller = False
    return _blas_controller or None


@contextlib.contextmanager
def blas_threads(n):
    """Within the block the BLAS runs each call on ``n`` threads.

    Only from the main thread: OpenBLAS takes a new thread count from the
    thread that started it and ignores one set elsewhere (measured: a limit
    set on another thread left that thread's own GEMMs on 2 threads), so
    elsewhere the block changes nothing, which costs speed, never a result.
    Counted, so that nested blocks restore the BLAS's own count only when
    the outermost one ends.
    """
    global _blas_users, _blas_saved
    libs = _controller()
    if libs is None or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    with _blas_lock:
        if _blas_users == 0:
            _blas_saved = [lib.num_threads for lib in libs]
            for lib in libs:
                lib.set_num_threads(n)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for lib, saved in zip(libs, _blas_saved):
                    lib.set_num_threads(saved)


def run_parallel(work, n_parts, blas=None, here=False):
    """Run ``work(part)`` for ``part`` in ``range(n_parts)`` on the pool.

    Args:
        work (callable): computes part ``part``; parts must write disjoint
            memory. Its exceptions are raised here (the first part's first)
            once every part has ended.
        n_parts (int): parts; 1 runs ``work(0)`` on the calling thread.
        blas (int or None): BLAS threads while the parts run (see
            :func:`blas_threads`); None leaves the BLAS alone.
        here (bool): part 0 runs on the calling thread, the others on the
            pool: one hand-over fewer (about 0.1 ms once the pool has gone
            idle; the demo's training iteration took 3.9 to 6.6 ms less,
            200 alternating iterations). For parts whose scratch is small:
            what part 0 allocates then comes from the calling thread's
            malloc arena, among the model's arrays.
    """
    if n_parts <= 1 or getattr(_local, 'serial', False):
        for part in range(n_parts):
            work(part)
        return
    context = blas_threads(blas) if blas else contextlib.nullcontext()
    with context:
        # Without ``here``, every part on the pool: what a part allocates
        # (Winograd's scratch, tens of MB) comes from the pool threads' own
        # malloc arenas. Part 0 of every call on the main thread put those
        # buffers among the model's arrays in the main arena: VGG16's peak
        # memory in training rose from 2956 to 3186 MiB
        # (bench/train_step.py --sides ours).
        pool = _pool()
        first = 1 if here else 0
        futures = [pool.submit(work, part) for part in range(first, n_parts)]
        try:
            if here:
                work(0)
        finally:
            # No part may still write after this returns or raises.
            concurrent.futures.wait(futures)
        for future in futures:
            future.result()


def side_by_side_pays(n_jobs):
    """Whether :func:`run_side_by_side` of ``n_jobs`` jobs beats running
    them one after the other, each split over the cores: where the jobs
    are as many as the cores. On the 2-core development machine a
    convolution's input and weight gradients side by side took 0.72 to
    0.99 times as long as the two split over both cores (the demo's
    layers), 0.91 to 1.02 times (VGG16's at 600 x 800): the split's
    hand-overs to the pool, each after the other core has gone idle,
    cost more than the imbalance between the jobs. With more cores a
    job of its own would leave cores idle.

    Only on the main thread, where :func:`blas_threads` takes effect, and
    not inside another such job.
    """
    return (cpu_threads() == n_jobs and not getattr(_local, 'serial', False)
            and threading.current_thread() is threading.main_thread())


def lane():
    """The place of the :func:`run_side_by_side` job this thread runs among
    its jobs (0 for the first, and outside any such job). Scratch memory
    kept between calls is kept per lane, so that jobs running at once never
    share it while calls one after the other still reuse it
    (:mod:`fasterrcnn.functions.roi_pooling.numpy_workspace`)."""
    return getattr(_local, 'lane', 0)


def _serially(job, place=0):
    def run():
        previous = (getattr(_local, 'serial', False), lane())
        _local.serial, _local.lane = True, place
        try:
            return job()
        finally:
            _local.serial, _local.lane = previous
    return run


def run_side_by_side(here, *elsewhere):
    """Run ``here()`` on the calling thread (None: nothing) and each of
    ``elsewhere`` on a thread of the pool, at once as far as the pool has
    threads (:func:`side_by_side_pays`), with the BLAS on one thread (so
    the bits of a product do not depend on what runs beside it). Within
    each job :func:`run_parallel` runs its parts one after
    the other on the job's thread, so a job computes the same values as
    it would alone with the BLAS at one thread. The jobs must write
    disjoint memory; ``elsewhere`` jobs must not read ``chainer.config``
    (it is the calling thread's own).

    Returns:
        list: the results, ``here``'s first (None when ``here`` is None).
        The first exception, ``here``'s first, is raised once every job
        has ended.
    """
    jobs = (here,) + elsewhere
    results = [None] * len(jobs)

    def work(k):
        if jobs[k] is not None:
            results[k] = _serially(jobs[k], k)()
    # run_parallel's own hand-over: job 0 here, the others on the pool,
    # every one ended before this returns or raises. The BLAS at one
    # thread around it, not through its ``blas``: a lone job (which
    # run_parallel runs as it is) gets the bits it gets beside others.
    with blas_threads(1):
        run_parallel(work, len(jobs), here=True)
    return results


def run_slices(work, total, n_parts, blas=None, here=False):
    """Run ``work(start, stop)`` over ``n_parts`` near-equal slices of
    ``range(total)`` with :func:`run_parallel` (a slice of the channels,
    say; ``blas`` and ``here`` as there). For work whose every value is
    computed the same way whatever the slices, so that the split changes
    no result."""
    def part(k):
        work(total * k // n_parts, total * (k + 1) // n_parts)
    run_parallel(part, n_parts, blas, here)


def run_slices_by_size(work, total, nbytes, part_bytes):
    """:func:`run_slices` of ``range(total)`` (the channels of an array
    of ``nbytes``, say) in parts of at least ``part_bytes`` of it, one a
    core at most: a small array is one part, on the calling thread, where
    handing it to the pool would cost more than a second core saves."""
    run_slices(work, total,
               max(1, min(cpu_threads(), total, nbytes // part_bytes)))


def kernels_enabled():
    """Whether this project's CPU convolution and max pooling run (they do
    unless ``chainer.config.fasterrcnn_cpu_kernels`` is False, which hands
    every call to Chainer's own functions: ``with chainer.using_config(
    'fasterrcnn_cpu_kernels', False):``)."""
    import chainer
    return bool(getattr(chainer.config, 'fasterrcnn_cpu_kernels', True))
