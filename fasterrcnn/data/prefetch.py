"""Reading the next batch on a thread while the current one is computed.

The iterators decide *which* examples come next on the main thread, as
before; only the reading (decoding, resizing, flipping) of the batch they
expect next runs ahead, on a daemon thread. The work is a cache keyed by
what it computes, never a change of state:

* :meth:`Prefetcher.start` begins computing ``fn()`` for ``key``;
* :meth:`Prefetcher.take` returns that result when asked for the same key,
  and otherwise computes ``fn()`` on the calling thread (the iterator was
  rewound by the guard after a bad batch, or restored from a snapshot, so
  the batch it expected is not the one wanted).

So a snapshot holds exactly what it held without prefetching, a resumed
run sees the same batches, and an error met on the thread (a bad example)
is raised by :meth:`take`, on the main thread, for the batch that has it.
Threads rather than processes: Pillow's decoding and resizing and NumPy
release the GIL, and there is no fork, no pipe, no worker to hang or to
leave behind (the hangs users of multiprocess loaders report); a daemon
thread never keeps the process from exiting.
"""

import threading

from fasterrcnn.backend import with_caller_settings


class _Pending(object):
    """One ``fn()`` running on a daemon thread."""

    def __init__(self, key, fn):
        self.key = key
        self.done = threading.Event()
        self.result = self.error = None
        # The reading thread sees the caller's Chainer settings (a reader
        # that follows chainer.config.cv_read_image_backend, say).
        thread = threading.Thread(target=self._run,
                                  args=(with_caller_settings(fn),),
                                  name='fasterrcnn-prefetch', daemon=True)
        thread.start()

    def _run(self, fn):
        try:
            self.result = fn()
        except BaseException as error:  # handed to take(), on the caller
            self.error = error
        finally:
            self.done.set()

    def get(self):
        self.done.wait()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.result


class Prefetcher(object):
    """At most one computation ahead of its caller.

    Args:
        enabled (bool): False computes everything in :meth:`take` (the same
            results, nothing ahead).
    """

    def __init__(self, enabled=True):
        self.enabled = enabled
        self._pending = None

    def start(self, key, fn):
        """Begin ``fn()`` for ``key`` (dropping any other one ahead)."""
        if self.enabled:
            self._pending = _Pending(key, fn)

    def take(self, key, fn):
        """``fn()``'s result for ``key``: the one computed ahead if it was
        for this key, else computed now. Errors are raised here."""
        pending, self._pending = self._pending, None
        if pending is not None and pending.key == key:
            return pending.get()
        return fn()

    def cancel(self):
        """Forget the computation ahead (its thread ends on its own)."""
        self._pending = None


#: What :func:`read_ahead`'s thread returns at the end of the items.
_END = object()


def read_ahead(iterable, enabled=True):
    """The items of ``iterable``, each next one taken on a thread while the
    caller works on the current one (evaluation: the next chunk of test
    images is read while this one is predicted).

    Only one thread advances the iterator at a time: the caller waits for
    the item taken ahead before asking for another. An error raised by the
    iterable is raised here, at the item that raised it.
    """
    if not enabled:
        for item in iterable:
            yield item
        return
    items = iter(iterable)

    def take():
        return next(items, _END)
    prefetcher = Prefetcher()
    step = 0
    prefetcher.start(step, take)
    while True:
        item = prefetcher.take(step, take)
        if item is _END:
            return
        step += 1
        prefetcher.start(step, take)
        yield item
