"""``chainercv.utils.unzip``: an iterable of tuples as a tuple of iterators,
one per position, that read the iterable only as far as they are advanced.

:func:`fasterrcnn.chainercv.utils.apply_to_iterator` hands out its values
through the same machinery (:class:`Fanout`), with a batch's column of
values per position instead of one value.
"""

import collections


class Fanout(object):
    """One source of rows shared by several iterators, one per position of a
    row.

    A row is read from the source only when an iterator needs a value that
    no earlier row gave it; the row's other values wait in their positions'
    queues. An iterator that is deleted stops its position's queue, so that
    values nobody will read (the images of an evaluation, say) are not kept.

    Args:
        rows (iterator): the rows, each a sequence of ``n`` items.
        n (int): the number of positions.
        columns (bool): each item of a row is itself a sequence of values (a
            batch's column) handed out one after the other, not one value.
    """

    def __init__(self, rows, n, columns=False):
        self._rows = rows
        self._columns = columns
        # None where the position's iterator is gone.
        self._queues = [collections.deque() for _ in range(n)]

    def _read_row(self):
        row = next(self._rows)  # StopIteration ends the iterators
        for queue, item in zip(self._queues, row):
            if queue is None:
                continue
            if self._columns:
                queue.extend(item)
            else:
                queue.append(item)

    def take(self, position):
        """The next value of ``position`` (StopIteration when the rows are
        exhausted)."""
        queue = self._queues[position]
        # A batch may hold no value for a position (an empty column), so
        # read on until one does.
        while not queue:
            self._read_row()
        return queue.popleft()

    def drop(self, position):
        """Keep no more values for ``position``."""
        self._queues[position] = None

    def iterators(self):
        """One iterator per position, in order."""
        return tuple(_PositionIterator(self, position)
                     for position in range(len(self._queues)))


class _PositionIterator(object):
    """The values of one position of a :class:`Fanout`."""

    def __init__(self, fanout, position):
        self._fanout = fanout
        self._position = position

    def __iter__(self):
        return self

    def __next__(self):
        return self._fanout.take(self._position)

    # Python 2's name, which chainercv's iterators also answered to.
    next = __next__

    def __del__(self):
        # (getattr: __init__ may not have run to its end.)
        fanout = getattr(self, '_fanout', None)
        if fanout is not None:
            fanout.drop(self._position)


def prepend(first, rest):
    """``first``, then the items of ``rest``, keeping no reference to
    ``first`` once it is given (:func:`itertools.chain` would keep it, an
    evaluation's first batch of images, to the end)."""
    held = [first]
    del first
    yield held.pop()
    yield from rest


def unzip(iterable):
    """The inverse of :func:`zip`, lazily: a tuple of iterators, the
    ``k``-th giving the ``k``-th item of each tuple of ``iterable``.

    The first tuple is read at once (its length says how many iterators to
    return); the others when an iterator reaches them. Each iterator keeps
    the values that it has not given yet, so delete the ones not needed.

    Args:
        iterable (iterable): tuples (or sequences) of one length.

    Returns:
        tuple of iterators: one per position of the tuples.

    Raises:
        ValueError: ``iterable`` is empty (nothing says how many iterators
            to return; chainercv let the StopIteration escape).
    """
    iterator = iter(iterable)
    try:
        first = next(iterator)
    except StopIteration:
        raise ValueError('unzip: the iterable is empty, so the number of '
                         'iterators is unknown') from None
    return Fanout(prepend(first, iterator), len(first)).iterators()
