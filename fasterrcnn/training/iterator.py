"""A SerialIterator whose shuffled order comes from its own RandomState.

:class:`chainer.iterators.SerialIterator` with ``shuffle=True`` draws each
epoch's order from the global ``numpy.random``, which a trainer snapshot does
not hold, so a resumed run would see a different order after the next epoch
boundary. :class:`SeededSerialIterator` draws it from a RandomState of its own
and saves that state in ``serialize``, so that a run resumed from a snapshot
goes on with exactly the batches the uninterrupted run would have had.
"""

import numpy
from chainer.iterators import SerialIterator
from chainer.iterators.order_samplers import ShuffleOrderSampler

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
