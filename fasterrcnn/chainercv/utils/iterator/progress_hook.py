"""``chainercv.utils.ProgressHook``: a progress line for
:func:`fasterrcnn.chainercv.utils.apply_to_iterator`."""

import sys
import time


class ProgressHook(object):
    """A hook for :func:`apply_to_iterator` that rewrites one line on
    standard output after each batch, as chainercv's:
    ``\\r<n> of <total> samples, <rate> samples/sec, ETA <h>:<mm>:<ss>``
    with ``n_total``, ``\\r<n> samples, <rate> samples/sec`` without it. The
    rate counts from the hook's creation; no newline is written at the end.

    Args:
        n_total (int or None): the number of examples to expect.

    Attributes:
        n_total (int or None): as given.
        start (float): when the hook was made (:func:`time.time`).
        n_processed (int): the examples counted so far.
    """

    def __init__(self, n_total=None):
        self.n_total = n_total
        self.start = time.time()
        self.n_processed = 0

    def __call__(self, in_values, out_values, rest_values):
        """Count a batch and rewrite the line.

        Args:
            in_values (tuple of lists): the batch's in values (the first
                list's length is its number of examples).
            out_values (tuple): the batch's out values (not used).
            rest_values (tuple): the batch's rest values (not used).
        """
        self.n_processed += len(in_values[0])
        elapsed = time.time() - self.start
        # A coarse clock can show no time passed after the first batch.
        rate = self.n_processed / elapsed if elapsed > 0 else 0.
        if self.n_total is not None and rate > 0:
            # Past n_total (a repeating iterator) the ETA stays at zero.
            eta = max(int((self.n_total - self.n_processed) / rate), 0)
            minutes, seconds = divmod(eta, 60)
            hours, minutes = divmod(minutes, 60)
            line = ('{:d} of {:d} samples, {:.2f} samples/sec, '
                    'ETA {:4d}:{:02d}:{:02d}'.format(
                        self.n_processed, self.n_total, rate, hours, minutes,
                        seconds))
        else:
            line = '{:d} samples, {:.2f} samples/sec'.format(
                self.n_processed, rate)
        sys.stdout.write('\r' + line)
        sys.stdout.flush()
