"""Timing for the benchmarks: the median of repeated runs after a warm-up."""

import statistics
import time


def median_time(fn, repeat, sync=lambda: None):
    """Median seconds of ``repeat`` calls of ``fn`` after one warm-up call.

    Args:
        fn (callable): the work; called ``repeat + 1`` times.
        repeat (int): timed calls.
        sync (callable): waits for queued device work (a GPU's
            ``synchronize``), so that each time covers the work itself.
    """
    fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
