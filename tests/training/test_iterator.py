import chainer
import numpy
import pytest

from fasterrcnn.safe_npz import load_npz
from fasterrcnn.training import SeededSerialIterator


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
