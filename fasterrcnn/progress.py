"""Progress of long loops (evaluation, data writing) through tqdm.

On a terminal, tqdm's bar on stderr. Anywhere else (a log file, a pipe,
CI) a redrawn bar is noise, so nothing is drawn while the loop runs and one
plain line is written at the end::

    eval: 200/200 images (100%) in 8.7 s, 23.02 images/s
"""

import sys
import time

from tqdm import tqdm


class Progress(object):
    """Counts ``total`` steps; a context manager.

    Args:
        total (int): the number of steps.
        desc (str): what is in progress (the line's first word).
        unit (str): what a step is, plural (``'images'``).
        enabled (bool): False writes nothing (the time is still measured).
        stream (file or None): where to write (``sys.stderr`` when None).
    """

    def __init__(self, total, desc, unit='items', enabled=True,
                 stream=None):
        self.total, self.desc, self.unit = int(total), desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.total > 0
        isatty = getattr(self.stream, 'isatty', None)
        self._bar = None
        if self.enabled and isatty is not None and isatty():
            self._bar = tqdm(total=self.total, desc=desc, unit=unit[:-1]
                             if unit.endswith('s') else unit,
                             file=self.stream, dynamic_ncols=True)
        self.done = 0
        self.start = time.perf_counter()

    def update(self, done):
        """Set the number of steps done so far."""
        if self._bar is not None:
            self._bar.update(done - self.done)
        self.done = done

    def elapsed(self):
        """Seconds since the start."""
        return time.perf_counter() - self.start

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled:
            seconds = self.elapsed()
            rate = self.done / seconds if seconds > 0 else float('nan')
            print('{}: {}/{} {} ({:.0%}) in {:.1f} s, {:.2f} {}/s'.format(
                self.desc, self.done, self.total, self.unit,
                self.done / float(self.total), seconds, rate, self.unit),
                file=self.stream, flush=True)
        self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
