"""A hand-written progress bar for long loops (evaluation, data writing).

On a terminal the bar is one line redrawn in place (``\\r``) at most every
``min_interval`` seconds::

    eval [#########.....................]  312/1000 images  8.40 images/s
      ETA 0:01:22

(one line on the screen; the rate has two decimals below 10 a second).

Anywhere else (a log file, a pipe, CI) it writes a plain line each time
another tenth of the work is done, and one at the end, so that logs stay
short and readable::

    eval: 100/1000 images (10%), 8.40 images/s, ETA 0:01:47
"""

import sys
import time

_BAR_WIDTH = 30


def format_duration(seconds):
    """``H:MM:SS`` for a number of seconds (``?`` when unknown)."""
    if seconds is None or not seconds >= 0 or seconds == float('inf'):
        return '?'
    seconds = int(round(seconds))
    return '{}:{:02d}:{:02d}'.format(seconds // 3600, seconds // 60 % 60,
                                     seconds % 60)


class ProgressBar(object):
    """Progress of ``total`` steps: done / total, rate and ETA on a stream.

    Args:
        total (int): the number of steps.
        desc (str): what is in progress (the line's first word).
        unit (str): what a step is, plural (``'images'``).
        stream (file): where to write; None means ``sys.stderr`` at the time
            of each write.
        tty (bool or None): redraw in place; None asks ``stream.isatty()``.
        min_interval (float): least seconds between two redraws on a
            terminal (the last step is always drawn).
        line_fraction (float): without a terminal, a line each time this
            fraction of ``total`` more is done.
        clock (callable): seconds as a float (``time.perf_counter``).
        enabled (bool): False writes nothing (the counts are still kept).
    """

    def __init__(self, total, desc='', unit='items', stream=None, tty=None,
                 min_interval=0.1, line_fraction=0.1,
                 clock=time.perf_counter, enabled=True):
        self.total = int(total)
        self.desc = desc
        self.unit = unit
        self._stream = stream
        self.enabled = enabled and self.total > 0
        if tty is None:
            isatty = getattr(self.stream, 'isatty', None)
            tty = bool(isatty()) if isatty is not None else False
        self.tty = tty
        self.min_interval = min_interval
        self.line_step = max(1, int(round(self.total * line_fraction)))
        self.clock = clock
        self.start = clock()
        self.done = 0
        self._next_line = self.line_step
        self._last_draw = None
        self._width = 0
        self._closed = False

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stderr

    def elapsed(self):
        """Seconds since the bar was made."""
        return self.clock() - self.start

    def rate(self):
        """Steps per second so far (None before the first step)."""
        elapsed = self.elapsed()
        if self.done == 0 or elapsed <= 0:
            return None
        return self.done / elapsed

    def eta(self):
        """Seconds left at the rate so far (None when unknown)."""
        rate = self.rate()
        if rate is None:
            return None
        return (self.total - self.done) / rate

    def _rate_text(self):
        rate = self.rate()
        if rate is None:
            return '? {}/s'.format(self.unit)
        return '{:.{}f} {}/s'.format(rate, 2 if rate < 10 else 1, self.unit)

    def update(self, done):
        """Record that ``done`` steps (a running count) are finished."""
        self.done = min(int(done), self.total)
        if not self.enabled or self._closed:
            return
        finished = self.done >= self.total
        if self.tty:
            now = self.clock()
            if finished or self._last_draw is None or \
                    now - self._last_draw >= self.min_interval:
                self._last_draw = now
                self._draw(finished)
        elif finished or self.done >= self._next_line:
            while self._next_line <= self.done:
                self._next_line += self.line_step
            self._line(finished)
        if finished:
            self._closed = True

    def _draw(self, finished):
        filled = _BAR_WIDTH * self.done // self.total
        width = len(str(self.total))
        text = '{}{}[{}{}] {:>{}}/{} {}  {}'.format(
            self.desc, ' ' if self.desc else '', '#' * filled,
            '.' * (_BAR_WIDTH - filled), self.done, width, self.total,
            self.unit, self._rate_text())
        if finished:
            text += '  in {}'.format(format_duration(self.elapsed()))
        else:
            text += '  ETA {}'.format(format_duration(self.eta()))
        # Spaces over what is left of a longer previous line.
        padded = text.ljust(self._width)
        self._width = len(text)
        self.stream.write('\r' + padded + ('\n' if finished else ''))
        self.stream.flush()

    def _line(self, finished):
        text = '{}{}{}/{} {} ({:.0f}%), {}'.format(
            self.desc, ': ' if self.desc else '', self.done, self.total,
            self.unit, 100.0 * self.done / self.total, self._rate_text())
        if finished:
            text += ', in {}'.format(format_duration(self.elapsed()))
        else:
            text += ', ETA {}'.format(format_duration(self.eta()))
        self.stream.write(text + '\n')
        self.stream.flush()

    def close(self):
        """End the bar's line if the loop stopped early (an error)."""
        if self.enabled and not self._closed:
            if self.tty and self._last_draw is not None:
                self.stream.write('\n')
                self.stream.flush()
            self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
