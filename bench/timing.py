"""Timing for the benchmarks: repeated runs after a warm-up, their median
and spread, and how much of the machine other processes took meanwhile."""

import os
import resource
import statistics
import time


def _machine_busy():
    """Seconds of CPU time the whole machine has spent busy so far (every
    core, from ``/proc/stat``), or None where there is no such file."""
    try:
        with open('/proc/stat') as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...: idle and iowait
    # are not busy; steal is time the host gave another machine.
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)
    return busy / float(os.sysconf('SC_CLK_TCK'))


def _own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class Runs(object):
    """The timed calls of :func:`run_times`.

    Attributes:
        times (list of float): seconds of each call.
        others (list of float or None): for each call, the share of the
            machine's cores that other processes kept busy meanwhile (0:
            none, 1: every core; None where ``/proc/stat`` is missing). A
            share above about 0.1 means the call was disturbed.
    """

    def __init__(self):
        self.times, self.others = [], []

    def spread(self):
        return spread(self.times)


def run_times(fn, repeat, sync=lambda: None, warm_up=True):
    """``repeat`` timed calls of ``fn`` after one warm-up call.

    Args:
        fn (callable): the work; called ``repeat + 1`` times (``repeat``
            without the warm-up).
        repeat (int): timed calls.
        sync (callable): waits for queued device work (a GPU's
            ``synchronize``), so that each time covers the work itself.
        warm_up (bool): make the untimed first call.

    Returns:
        Runs: the seconds of each call, and the other processes' share of
        the machine during each.
    """
    if warm_up:
        fn()
        sync()
    runs = Runs()
    cores = _cores()
    for _ in range(repeat):
        busy, own = _machine_busy(), _own_cpu()
        start = time.perf_counter()
        fn()
        sync()
        seconds = time.perf_counter() - start
        runs.times.append(seconds)
        after = _machine_busy()
        if busy is None or after is None:
            runs.others.append(None)
        else:
            others = (after - busy) - (_own_cpu() - own)
            runs.others.append(max(0., others / (seconds * cores)))
    return runs


def median_time(fn, repeat, sync=lambda: None):
    """Median seconds of ``repeat`` calls of ``fn`` after one warm-up call.

    Args:
        fn (callable): the work; called ``repeat + 1`` times.
        repeat (int): timed calls.
        sync (callable): waits for queued device work (a GPU's
            ``synchronize``), so that each time covers the work itself.
    """
    return statistics.median(run_times(fn, repeat, sync).times)


def spread(values):
    """``median``, ``min``, ``max``, the quartiles ``q1`` and ``q3``
    (inclusive method) and ``n`` of a list of numbers."""
    values = list(values)
    if len(values) > 1:
        q1, _, q3 = statistics.quantiles(values, n=4, method='inclusive')
    else:
        q1 = q3 = values[0]
    return {'median': statistics.median(values), 'min': min(values),
            'max': max(values), 'q1': q1, 'q3': q3, 'n': len(values)}
