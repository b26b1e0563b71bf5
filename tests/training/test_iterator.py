import threading

import chainer
import numpy
import pytest

from fasterrcnn.data.bad_examples import BadExampleError
from fasterrcnn.safe_npz import load_npz
from fasterrcnn.training import SeededSerialIterator
from fasterrcnn.training.iterator import ShardedIterator


def take(iterator, n):
    return [list(iterator.next()) for _ in range(n)]


def test_same_seed_same_order_and_chainer_compatible():
    data = list(range(7))
    a = take(SeededSerialIterator(data, 3, seed=5), 6)
    b = take(SeededSerialIterator(data, 3, seed=5), 6)
    assert a == b
    # the same batches as chainer's iterator with the same sampler
    reference = chainer.iterators.SerialIterator(
        data, 3, shuffle=None,
        order_sampler=chainer.iterators.ShuffleOrderSampler(
            numpy.random.RandomState(5)))
    assert a == take(reference, 6)
    assert a != take(SeededSerialIterator(data, 3, seed=6), 6)


def test_does_not_use_the_global_random_state():
    numpy.random.seed(0)
    before = numpy.random.get_state()[1].copy()
    it = SeededSerialIterator(list(range(5)), 2, seed=1)
    take(it, 10)
    it.reset()
    numpy.testing.assert_array_equal(numpy.random.get_state()[1], before)


def test_every_epoch_is_a_permutation():
    it = SeededSerialIterator(list(range(6)), 3, seed=0)
    orders = [sum(take(it, 2), []) for _ in range(4)]
    for order in orders:
        assert sorted(order) == list(range(6))
    assert len(set(map(tuple, orders))) > 1


def test_no_shuffle_and_no_repeat():
    it = SeededSerialIterator(list(range(5)), 2, repeat=False,
                              shuffle=False)
    assert [list(b) for b in it] == [[0, 1], [2, 3], [4]]
    rs = numpy.random.RandomState(3)
    assert SeededSerialIterator([1], 1, random_state=rs).random_state is rs
    with pytest.raises(ValueError):
        SeededSerialIterator([1], 1, seed=1, random_state=rs)


@pytest.mark.parametrize('done', [0, 1, 2, 3, 5])
def test_resume_continues_the_same_batches(tmp_path, done):
    # 7 examples, batches of 3: epochs end inside batches 3, 5, 7, ...
    data = list(range(7))

    def steps(iterator, n):
        return [(list(iterator.next()), iterator.is_new_epoch,
                 iterator.epoch, iterator.epoch_detail) for _ in range(n)]

    expected = steps(SeededSerialIterator(data, 3, seed=11), done + 8)

    it = SeededSerialIterator(data, 3, seed=11)
    take(it, done)
    path = str(tmp_path / 'it.npz')
    chainer.serializers.save_npz(path, it)

    resumed = SeededSerialIterator(data, 3, seed=999)  # state from file
    load_npz(path, resumed)
    assert resumed.epoch == it.epoch
    assert resumed.current_position == it.current_position
    assert resumed.previous_epoch_detail == it.previous_epoch_detail
    assert steps(resumed, 8) == expected[done:]


class _Recorded(object):
    """Examples ``i`` as ``(i,)``; who read which, and an example that
    fails."""

    def __init__(self, n, bad=None):
        self.n, self.bad = n, bad
        self.readers = {}
        self.lock = threading.Lock()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.lock:
            self.readers.setdefault(i, []).append(
                threading.current_thread().name)
        if i == self.bad:
            raise BadExampleError('example {} is bad'.format(i))
        return (i,)


def _sharded(data, prefetch, **kwargs):
    return ShardedIterator(data, 3, lambda example, rs: example + (
        int(rs.randint(1000)),), seed=5, transform_seed=6,
        prefetch=prefetch, **kwargs)


@pytest.mark.parametrize('rank,size', [(0, 1), (1, 3)])
def test_prefetch_gives_the_same_batches_and_snapshots(tmp_path, rank, size):
    expected = _sharded(_Recorded(7), False, rank=rank, size=size)
    it = _sharded(_Recorded(7), True, rank=rank, size=size)
    for step in range(9):     # epochs end inside batches 3, 5, 7, 10
        assert it.next() == expected.next()
        assert (it.epoch, it.current_position, it.is_new_epoch) == (
            expected.epoch, expected.current_position,
            expected.is_new_epoch)
    paths = [str(tmp_path / name) for name in ('a.npz', 'b.npz')]
    chainer.serializers.save_npz(paths[0], it)
    chainer.serializers.save_npz(paths[1], expected)
    with numpy.load(paths[0]) as a, numpy.load(paths[1]) as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            numpy.testing.assert_array_equal(a[key], b[key])


def test_batches_are_read_ahead_on_a_thread():
    data = _Recorded(30)     # no example twice in the first three batches
    it = _sharded(data, True)
    first = it.next()
    second = it.next()
    # the first batch on the caller, the second read while the first was
    # being used
    assert all(data.readers[e[0]] == [threading.current_thread().name]
               for e in first)
    assert all(data.readers[e[0]] == ['fasterrcnn-prefetch']
               for e in second)


def test_a_rewound_iterator_reads_what_it_is_asked_for(tmp_path):
    # The guard restores the state saved before a bad batch; a resumed run
    # loads a snapshot: the batch read ahead is not the one wanted.
    it = _sharded(_Recorded(7), True)
    saved = {}
    chainer.serializers.DictionarySerializer(saved).save(it)
    first = it.next()
    it.next()
    chainer.serializers.NpzDeserializer(saved).load(it)
    assert it.next() == first


def test_a_bad_example_read_ahead_fails_the_batch_that_has_it():
    data = _Recorded(7)
    reference = _sharded(_Recorded(7), False)
    batches = [reference.next() for _ in range(3)]
    data.bad = batches[2][0][0]   # the first example of the third batch
    it = _sharded(data, True)
    assert it.next() == batches[0]
    assert it.next() == batches[1]     # the third is read ahead, and fails
    with pytest.raises(BadExampleError, match='is bad'):
        it.next()
