"""A SerialIterator whose shuffled order comes from its own RandomState.

:class:`chainer.iterators.SerialIterator` with ``shuffle=True`` draws each
epoch's order from the global ``numpy.random``, which a trainer snapshot does
not hold, so a resumed run would see a different order after the next epoch
boundary. :class:`SeededSerialIterator` draws it from a RandomState of its own
and saves that state in ``serialize``, so that a run resumed from a snapshot
goes on with exactly the batches the uninterrupted run would have had.
"""

import numpy
from chainer.iterators import SerialIterator, _statemachine
from chainer.iterators.order_samplers import ShuffleOrderSampler

from fasterrcnn.creators.seeding import FLIP, example_random_state
from fasterrcnn.data.prefetch import Prefetcher
from fasterrcnn.training.snapshot import RandomStateHolder


class SeededSerialIterator(SerialIterator):
    """A :class:`chainer.iterators.SerialIterator` with its own RandomState.

    Same behaviour, batches and snapshot entries as the chainer iterator with
    an order sampler, plus the full state of its RandomState under
    ``random_state/`` in the snapshot.

    Args:
        dataset: the data set (anything with ``len`` and indexing).
        batch_size (int): examples per batch.
        repeat (bool): loop over the data set forever.
        shuffle (bool): a new random order at each epoch (the first one
            drawn here); False keeps the index order.
        seed (int or None): seed of a new RandomState.
        random_state (numpy.random.RandomState): use this one instead of
            seeding a new one (not both).

    Attributes:
        random_state (numpy.random.RandomState): the source of the orders.
    """

    def __init__(self, dataset, batch_size, repeat=True, shuffle=True,
                 seed=None, random_state=None):
        if random_state is None:
            random_state = numpy.random.RandomState(seed)
        elif seed is not None:
            raise ValueError('give random_state or seed, not both')
        self.random_state = random_state
        if shuffle:
            super(SeededSerialIterator, self).__init__(
                dataset, batch_size, repeat=repeat, shuffle=None,
                order_sampler=ShuffleOrderSampler(random_state))
        else:
            super(SeededSerialIterator, self).__init__(
                dataset, batch_size, repeat=repeat, shuffle=False)

    def serialize(self, serializer):
        super(SeededSerialIterator, self).serialize(serializer)
        RandomStateHolder(self.random_state).serialize(
            serializer['random_state'])


class ShardedIterator(SeededSerialIterator):
    """The global batches of a run, of which this process reads its share.

    Every process of a run holds the same iterator state (the order of each
    epoch comes from the same seeded RandomState): each ``next()`` steps
    through one global batch of ``batch_size`` examples, of which process
    ``rank`` of ``size`` reads and transforms only the contiguous share
    ``[rank * b, (rank + 1) * b)``, ``b = batch_size / size``. Each example
    is transformed with its own random state
    (:func:`fasterrcnn.creators.seeding.example_random_state` of ``seed``
    and its key) and comes out with that key appended: ``(img, bbox,
    label, scale, key)``, the key being the example's number in the run's
    global order. The snapshot entries are those of
    :class:`SeededSerialIterator`, the same in every process, so a run
    resumes with any number of processes that divides ``batch_size``.

    Args:
        dataset: the examples ``(img, bbox, label)``.
        batch_size (int): the global batch.
        transform (callable): ``transform(example, random_state)``.
        seed (int): the order's seed.
        transform_seed (int): the seed the examples' states derive from.
        rank, size (int): this process and the number of processes.
        prefetch (bool): read the batch expected next on a thread while the
            current one is computed (:mod:`fasterrcnn.data.prefetch`; the
            same batches and snapshots either way).
    """

    def __init__(self, dataset, batch_size, transform, seed, transform_seed,
                 rank=0, size=1, prefetch=True):
        if batch_size % size:
            raise ValueError(
                'train.batch_size {} is not a multiple of the {} processes: '
                'each takes an equal share of every batch'.format(
                    batch_size, size))
        super(ShardedIterator, self).__init__(dataset, batch_size, seed=seed)
        self.transform = transform
        self.transform_seed = transform_seed
        self.rank = rank
        self.size = size
        self._prefetcher = Prefetcher(prefetch)

    def _plan(self, indices, first):
        """``((data set index, key), ...)`` of this process's share of the
        global batch ``indices`` whose first key is ``first``."""
        share = self.batch_size // self.size
        begin = self.rank * share
        return tuple((int(indices[j]), first + j)
                     for j in range(begin, begin + share))

    def _read(self, plan):
        """The transformed examples of ``plan``, each with its key."""
        return [tuple(self.transform(
            self.dataset[index],
            example_random_state(self.transform_seed, FLIP, key))) + (key,)
            for index, key in plan]

    def _expected_next(self):
        """The plan of the next ``next()`` from the current state, found on
        copies (the state and its RandomState are left as they are); None
        at the end of a non-repeating iterator."""
        sampler = self.order_sampler
        if isinstance(sampler, ShuffleOrderSampler):
            copy = numpy.random.RandomState()
            copy.set_state(self.random_state.get_state())
            sampler = ShuffleOrderSampler(copy)
        n = len(self.dataset)
        _, indices = _statemachine.iterator_statemachine(
            self._state, self.batch_size, self.repeat, sampler, n)
        if indices is None:
            return None
        return self._plan(indices, self.epoch * n + self.current_position)

    def __next__(self):
        n = len(self.dataset)
        first = self.epoch * n + self.current_position
        self._previous_epoch_detail = self.epoch_detail
        self._state, indices = _statemachine.iterator_statemachine(
            self._state, self.batch_size, self.repeat, self.order_sampler, n)
        if indices is None:
            raise StopIteration
        plan = self._plan(indices, first)
        batch = self._prefetcher.take(plan, lambda: self._read(plan))
        following = self._expected_next() if self._prefetcher.enabled \
            else None
        if following is not None:
            self._prefetcher.start(following, lambda: self._read(following))
        return batch

    next = __next__

    def finalize(self):
        self._prefetcher.cancel()
        super(ShardedIterator, self).finalize()
