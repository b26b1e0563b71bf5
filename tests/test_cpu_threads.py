"""The shared CPU threads (cpu_threads.py): parts run, errors
come back, the BLAS's thread count is restored, a forked child works, the
core count is read once (again in a forked child)."""

import multiprocessing
import os
import threading

import numpy
import pytest
import threadpoolctl

from fasterrcnn import cpu_threads


def _blas_counts():
    return [info['num_threads'] for info in threadpoolctl.threadpool_info()
            if info['user_api'] == 'blas']


def test_every_part_runs_once():
    seen = []
    lock = threading.Lock()

    def work(part):
        with lock:
            seen.append(part)
    cpu_threads.run_parallel(work, 7)
    assert sorted(seen) == list(range(7))


@pytest.mark.parametrize('total,parts', [(7, 3), (2, 2), (64, 1), (5, 5)])
def test_slices_cover_the_range_once(total, parts):
    seen = []
    cpu_threads.run_slices(lambda a, b: seen.append((a, b)), total, parts)
    seen.sort()
    assert len(seen) == parts and seen[0][0] == 0 and seen[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(seen, seen[1:]))
    sizes = [b - a for a, b in seen]
    assert max(sizes) - min(sizes) <= 1


def test_part_zero_here_the_rest_on_the_pool():
    threads = {}

    def work(part):
        threads[part] = threading.get_ident()
    cpu_threads.run_parallel(work, 3, blas=1, here=True)
    assert sorted(threads) == [0, 1, 2]
    assert threads[0] == threading.get_ident()
    assert threading.get_ident() not in (threads[1], threads[2])
    ended = threading.Event()

    def fail_here(part):
        if part == 0:
            raise ValueError('part 0')
        ended.wait(0.2)
        ended.set()
    with pytest.raises(ValueError, match='part 0'):
        cpu_threads.run_parallel(fail_here, 2, blas=1, here=True)
    assert ended.is_set()       # the other part ended first
    assert cpu_threads._blas_users == 0


def test_errors_reach_the_caller():
    def work(part):
        if part == 2:
            raise ValueError('part 2')
    with pytest.raises(ValueError, match='part 2'):
        cpu_threads.run_parallel(work, 4, blas=1)
    assert cpu_threads._blas_users == 0


def test_blas_threads_set_from_the_main_thread_and_restored():
    before = _blas_counts()
    assert before, 'threadpoolctl finds the BLAS NumPy uses'
    elsewhere = []

    def other():
        # OpenBLAS ignores counts set on other threads: nothing changes
        with cpu_threads.blas_threads(1):
            elsewhere.append(cpu_threads._blas_users)
    with cpu_threads.blas_threads(1):
        with cpu_threads.blas_threads(1):      # nested
            assert _blas_counts() == [1] * len(before)
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        assert _blas_counts() == [1] * len(before)
    assert elsewhere == [2]
    assert _blas_counts() == before


def test_jobs_side_by_side_each_on_a_thread_of_its_own():
    before = _blas_counts()
    seen = {}

    def job(name):
        def run():
            seen[name] = [threading.get_ident(), _blas_counts()]
            # Its parts run one after the other on the job's own thread.
            threads = []
            cpu_threads.run_parallel(
                lambda part: threads.append(threading.get_ident()), 3,
                blas=1)
            seen[name].append(threads)
            seen[name].append(cpu_threads.side_by_side_pays(2))
            return name
        return run
    assert cpu_threads.run_side_by_side(job('here'), job('a')) == \
        ['here', 'a']
    assert seen['here'][0] == threading.get_ident() != seen['a'][0]
    # More jobs than the pool has threads wait for one: the results keep
    # the jobs' order.
    assert cpu_threads.run_side_by_side(
        job('here'), *(job(name) for name in 'bcde')) == \
        ['here', 'b', 'c', 'd', 'e']
    for ident, counts, threads, nested in seen.values():
        assert counts == [1] * len(before)       # the BLAS at one thread
        assert threads == [ident] * 3
        assert nested is False                   # no job inside a job
    assert _blas_counts() == before
    assert cpu_threads.run_side_by_side(None, lambda: 5) == [None, 5]
    # A lone job too: the BLAS at one thread, its parts in turn.
    assert cpu_threads.run_side_by_side(job('alone')) == ['alone']
    ident, counts, threads, nested = seen['alone']
    assert ident == threading.get_ident() and threads == [ident] * 3
    assert counts == [1] * len(before) and nested is False
    assert _blas_counts() == before


def test_a_failing_job_is_raised_once_every_job_has_ended():
    ended = threading.Event()

    def slow():
        ended.wait(0.2)
        ended.set()

    def fail():
        raise ValueError('here')
    with pytest.raises(ValueError, match='here'):
        cpu_threads.run_side_by_side(fail, slow)
    assert ended.is_set()
    with pytest.raises(ZeroDivisionError):
        cpu_threads.run_side_by_side(None, lambda: 1 / 0, slow)
    assert cpu_threads._blas_users == 0


def test_side_by_side_pays_only_on_the_main_thread(monkeypatch):
    monkeypatch.setattr(cpu_threads, 'cpu_threads', lambda: 2)
    assert cpu_threads.side_by_side_pays(2)
    assert not cpu_threads.side_by_side_pays(3)
    elsewhere = []
    thread = threading.Thread(
        target=lambda: elsewhere.append(cpu_threads.side_by_side_pays(2)))
    thread.start()
    thread.join()
    assert elsewhere == [False]


def _child(queue):
    # Work handed to the parent's pool would wait forever here.
    out = numpy.zeros(4)

    def work(part):
        out[part] = part + 1
    cpu_threads.run_parallel(work, 4, blas=1)
    queue.put(out.tolist())


def _in_forked_child(target):
    """What ``target(queue)`` put in the queue, run in a forked child that
    must exit cleanly."""
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    child = context.Process(target=target, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    return queue.get(timeout=5)


def test_forked_child_gets_a_pool_of_its_own():
    cpu_threads.run_parallel(lambda part: None, 2)   # the parent's pool
    assert _in_forked_child(_child) == [1., 2., 3., 4.]


def test_blas_threads_restored_after_an_error():
    before = _blas_counts()
    with pytest.raises(RuntimeError):
        with cpu_threads.blas_threads(1):
            assert _blas_counts() == [1] * len(before)
            raise RuntimeError('in the block')
    assert _blas_counts() == before
    assert cpu_threads._blas_users == 0


def _count_affinity_calls(monkeypatch):
    calls = []
    real = os.sched_getaffinity

    def counted(pid):
        calls.append(pid)
        return real(pid)
    monkeypatch.setattr(os, 'sched_getaffinity', counted)
    monkeypatch.setattr(cpu_threads, '_cpu_count', None)
    return calls


@pytest.mark.skipif(not hasattr(os, 'sched_getaffinity'),
                    reason='no affinity on this system')
def test_cpu_count_is_read_once(monkeypatch):
    calls = _count_affinity_calls(monkeypatch)
    counts = {cpu_threads.cpu_threads() for _ in range(5)}
    assert counts == {len(os.sched_getaffinity(0))}
    assert len(calls) == 2      # the first call above, and this test's


def _child_count(queue):
    queue.put((cpu_threads._cpu_count, cpu_threads.cpu_threads()))


@pytest.mark.skipif(not hasattr(os, 'sched_getaffinity'),
                    reason='no affinity on this system')
def test_forked_child_reads_the_cpu_count_again(monkeypatch):
    # A child may run on other cores than its parent: the count it
    # inherits is dropped, and read again on its first use.
    monkeypatch.setattr(cpu_threads, '_cpu_count', 999)
    assert cpu_threads.cpu_threads() == 999
    assert _in_forked_child(_child_count) == (
        None, len(os.sched_getaffinity(0)))
    assert cpu_threads.cpu_threads() == 999      # the parent keeps its own


def test_kernels_switch():
    import chainer
    assert cpu_threads.kernels_enabled()
    with chainer.using_config('fasterrcnn_cpu_kernels', False):
        assert not cpu_threads.kernels_enabled()


@pytest.mark.parametrize('nbytes,expected', [(0, 1), (999, 1), (2000, 2),
                                             (10 ** 6, 3)])
def test_slices_by_size_take_a_part_per_part_bytes_up_to_the_cores(
        monkeypatch, nbytes, expected):
    monkeypatch.setattr(cpu_threads, 'cpu_threads', lambda: 3)
    seen = []
    cpu_threads.run_slices_by_size(lambda a, b: seen.append((a, b)), 64,
                                   nbytes, 1000)
    assert len(seen) == expected
    assert sorted(seen)[0][0] == 0 and sorted(seen)[-1][1] == 64
