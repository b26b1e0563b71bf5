"""chainercv's apply_to_iterator, ProgressHook and unzip
(fasterrcnn.chainercv.utils): batching, lazy values, hooks, ChainerMN."""

import gc
import weakref

import numpy
import pytest
from chainer.iterators import SerialIterator

from fasterrcnn.chainercv.utils import ProgressHook, apply_to_iterator, unzip
from fasterrcnn.chainercv.utils.iterator import progress_hook
from tests.support.thread_comm import group, run_ranks


def images(n):
    """``n`` small ``(3, H, W)`` int arrays of different sizes."""
    random = numpy.random.RandomState(0)
    return [random.randint(0, 256, size=(3, 4 + i, 5 + i)) for i in range(n)]


class Recorder(object):
    """A batched function that records the batches it is given and returns,
    per example, the sum of its in values (and their count with
    ``two_outputs``)."""

    def __init__(self, two_outputs=False):
        self.two_outputs = two_outputs
        self.calls = []

    def __call__(self, *in_lists):
        self.calls.append(in_lists)
        sums = [sum(int(numpy.sum(v)) for v in values)
                for values in zip(*in_lists)]
        if self.two_outputs:
            return sums, [len(in_lists)] * len(sums)
        return sums


class Hook(object):
    """A hook that records the batches it sees."""

    def __init__(self):
        self.batches = []

    def __call__(self, in_values, out_values, rest_values):
        self.batches.append((in_values, out_values, rest_values))


def test_one_input_examples_not_tuples():
    imgs = images(5)
    func = Recorder()
    in_values, out_values, rest_values = apply_to_iterator(
        func, SerialIterator(imgs, 2, repeat=False, shuffle=False))
    assert (len(in_values), len(out_values), rest_values) == (1, 1, ())
    got = list(in_values[0])
    assert len(got) == 5
    for a, b in zip(got, imgs):
        assert a is b
    assert list(out_values[0]) == [int(img.sum()) for img in imgs]
    # func was given one list per in value, one batch at a time.
    assert [len(call) for call in func.calls] == [1, 1, 1]
    assert [len(call[0]) for call in func.calls] == [2, 2, 1]
    assert all(isinstance(call[0], list) for call in func.calls)


def test_two_inputs_two_outputs_and_rest_values():
    imgs, others = images(5), images(5)[::-1]
    names = ['a', 'bc', 'def', 'ghij', 'klmno']
    examples = [(imgs[i], others[i], names[i], i) for i in range(5)]
    func = Recorder(two_outputs=True)
    in_values, out_values, rest_values = apply_to_iterator(
        func, SerialIterator(examples, 2, repeat=False, shuffle=False),
        n_input=2)
    assert (len(in_values), len(out_values), len(rest_values)) == (2, 2, 2)
    assert [x is y for x, y in zip(in_values[0], imgs)] == [True] * 5
    assert [x is y for x, y in zip(in_values[1], others)] == [True] * 5
    assert list(out_values[0]) == [int(a.sum()) + int(b.sum())
                                   for a, b in zip(imgs, others)]
    assert list(out_values[1]) == [2] * 5
    assert list(rest_values[0]) == names
    assert list(rest_values[1]) == [0, 1, 2, 3, 4]
    assert [tuple(len(v) for v in call) for call in func.calls] == [
        (2, 2), (2, 2), (1, 1)]


def test_hook_sees_each_batch_once():
    examples = [(img, i) for i, img in enumerate(images(5))]
    hook = Hook()
    in_values, out_values, rest_values = apply_to_iterator(
        Recorder(), SerialIterator(examples, 2, repeat=False, shuffle=False),
        hook=hook)
    list(out_values[0])
    assert len(hook.batches) == 3
    for k, (ins, outs, rests) in enumerate(hook.batches):
        start, stop = 2 * k, min(2 * k + 2, 5)
        assert len(ins) == 1 and isinstance(ins[0], list)
        assert [x is y for x, y in zip(
            ins[0], [e[0] for e in examples[start:stop]])] == \
            [True] * (stop - start)
        assert outs == ([int(e[0].sum()) for e in examples[start:stop]],)
        # Only this batch's values.
        assert rests == (list(range(start, stop)),)
    # Without rest values, the hook gets an empty tuple for them.
    hook = Hook()
    _, out_values, _ = apply_to_iterator(
        Recorder(), SerialIterator(images(3), 2, repeat=False,
                                   shuffle=False), hook=hook)
    list(out_values[0])
    assert [rests for _, _, rests in hook.batches] == [(), ()]


class CountingIterator(object):
    """Batches of consecutive ints; counts the batches read."""

    def __init__(self, n_batches, batch_size=2):
        self.n_batches = n_batches
        self.batch_size = batch_size
        self.read = 0

    def __next__(self):
        if self.read == self.n_batches:
            raise StopIteration
        start = self.read * self.batch_size
        self.read += 1
        return list(range(start, start + self.batch_size))


def test_values_are_computed_as_they_are_read():
    func, hook = Recorder(), Hook()
    iterator = CountingIterator(3)
    in_values, out_values, _ = apply_to_iterator(func, iterator, hook=hook)
    # The first batch is computed at once (it tells how many values there
    # are), no other.
    assert (iterator.read, len(func.calls), len(hook.batches)) == (1, 1, 1)
    assert [next(out_values[0]) for _ in range(2)] == [0, 1]
    assert (iterator.read, len(func.calls)) == (1, 1)
    assert next(out_values[0]) == 2
    assert (iterator.read, len(func.calls), len(hook.batches)) == (2, 2, 2)
    # The in values read so far wait for their iterator.
    assert list(in_values[0]) == [0, 1, 2, 3, 4, 5]
    assert list(out_values[0]) == [3, 4, 5]
    assert (iterator.read, len(func.calls)) == (3, 3)


def test_a_repeating_iterator_never_ends():
    in_values, out_values, _ = apply_to_iterator(
        Recorder(), SerialIterator(list(range(5)), 2, shuffle=False))
    assert [next(out_values[0]) for _ in range(12)] == \
        [0, 1, 2, 3, 4] * 2 + [0, 1]


def test_deleted_iterators_keep_nothing():
    # The images of a batch are made as it is read, so that only the
    # iterators could keep them alive.
    refs = []

    def batches():
        for k in range(4):
            batch = [(numpy.full((3, 4, 4), k * 2 + j), k * 2 + j)
                     for j in range(2)]
            refs.extend(weakref.ref(img) for img, _ in batch)
            yield batch

    def func(imgs):  # (Recorder would keep the images)
        return [int(img.sum()) for img in imgs]

    in_values, out_values, rest_values = apply_to_iterator(func, batches())
    del in_values  # as chainercv's evaluators do
    assert [next(out_values[0]) for _ in range(6)] == [48 * i
                                                       for i in range(6)]
    gc.collect()
    # Three batches read; the first two are gone (the first one too, which
    # apply_to_iterator computed itself).
    assert [ref() is None for ref in refs[:6]] == [True] * 4 + [False] * 2
    assert list(rest_values[0]) == list(range(8))
    assert list(out_values[0]) == [48 * i for i in range(6, 8)]
    gc.collect()
    assert [ref() for ref in refs] == [None] * 8


def test_an_empty_iterator_is_an_error():
    # (chainer's SerialIterator of an empty data set fails by itself.)
    with pytest.raises(ValueError, match='no batch'):
        apply_to_iterator(Recorder(), iter([]))


def test_empty_batches_are_skipped():
    hook = Hook()
    _, out_values, _ = apply_to_iterator(
        Recorder(), iter([[], [1, 2], [], [3]]), hook=hook)
    assert list(out_values[0]) == [1, 2, 3]
    assert len(hook.batches) == 2


def test_unzip():
    first, second = unzip(iter([(0, 'a'), (1, 'b'), (2, 'c')]))
    assert [next(first), next(first)] == [0, 1]
    assert list(second) == ['a', 'b', 'c']
    assert list(first) == [2]
    with pytest.raises(ValueError, match='empty'):
        unzip([])
    # Lazy past the first tuple.
    read = []

    def rows():
        for i in range(3):
            read.append(i)
            yield i, -i

    first, second = unzip(rows())
    assert read == [0]
    assert next(second) == 0 and read == [0]
    assert next(second) == -1 and read == [0, 1]


class Clock(object):
    """time.time for ProgressHook: the value of ``now``."""

    def __init__(self):
        self.now = 100.

    def time(self):
        return self.now


def progress_lines(monkeypatch, capsys, n_total, times, batch_sizes):
    clock = Clock()
    monkeypatch.setattr(progress_hook, 'time', clock)
    hook = ProgressHook(n_total)
    for t, size in zip(times, batch_sizes):
        clock.now = 100. + t
        hook(([None] * size,), (), ())
    out, err = capsys.readouterr()
    assert err == ''
    assert out.startswith('\r') and '\n' not in out
    return out[1:].split('\r')


def test_progress_hook_line(monkeypatch, capsys):
    assert progress_lines(monkeypatch, capsys, 5, [1, 2, 2.5],
                          [2, 2, 1]) == [
        '2 of 5 samples, 2.00 samples/sec, ETA    0:00:01',
        '4 of 5 samples, 2.00 samples/sec, ETA    0:00:00',
        '5 of 5 samples, 2.00 samples/sec, ETA    0:00:00']
    # Hours, minutes and seconds.
    assert progress_lines(monkeypatch, capsys, 10000, [1], [2]) == [
        '2 of 10000 samples, 2.00 samples/sec, ETA    1:23:19']
    # Without a total: the count and the rate.
    assert progress_lines(monkeypatch, capsys, None, [0.5, 4],
                          [1, 3]) == [
        '1 samples, 2.00 samples/sec', '4 samples, 1.00 samples/sec']
    # No time passed: a rate of 0 and no ETA; past the total, an ETA of 0.
    assert progress_lines(monkeypatch, capsys, 3, [0, 1], [2, 2]) == [
        '2 samples, 0.00 samples/sec',
        '4 of 3 samples, 4.00 samples/sec, ETA    0:00:00']


def test_progress_hook_with_apply_to_iterator(capsys):
    hook = ProgressHook(n_total=5)
    in_values, _, _ = apply_to_iterator(
        Recorder(), SerialIterator(images(5), 2, repeat=False), hook=hook)
    list(in_values[0])
    assert hook.n_processed == 5
    out = capsys.readouterr().out
    assert [line.split(' samples,')[0] for line in out.split('\r')[1:]] == \
        ['2 of 5', '4 of 5', '5 of 5']


def distributed(size, examples, batch_size, n_input=1):
    """apply_to_iterator on ``size`` thread ranks: rank 0's values read to
    the end, each rank's calls of func, and the hook's batches."""
    comms = group(size)
    funcs = [Recorder(two_outputs=True) for _ in range(size)]
    hook = Hook()

    def rank0():
        in_values, out_values, rest_values = apply_to_iterator(
            funcs[0], SerialIterator(examples, batch_size, repeat=False,
                                     shuffle=False),
            n_input=n_input, hook=hook, comm=comms[0])
        return ([list(v) for v in in_values], [list(v) for v in out_values],
                [list(v) for v in rest_values])

    def other(rank):
        # The iterator of the other ranks is not read.
        return apply_to_iterator(funcs[rank], None, n_input=n_input,
                                 hook=Hook(), comm=comms[rank])

    results = run_ranks([rank0] + [lambda r=r: other(r)
                                   for r in range(1, size)])
    return results, funcs, hook


def test_comm_shares_each_batch_and_gathers_in_order():
    imgs = images(7)
    examples = [(img, i) for i, img in enumerate(imgs)]
    results, funcs, hook = distributed(2, examples, batch_size=4)
    (ins, outs, rests), others = results[0], results[1:]
    assert others == [None]
    assert [x is y for x, y in zip(ins[0], imgs)] == [True] * 7
    assert outs == [[int(img.sum()) for img in imgs], [1] * 7]
    assert rests == [list(range(7))]
    # Batches 4 and 3: rank 0 took the first half (the longer one), rank 1
    # the rest.
    assert [len(call[0]) for call in funcs[0].calls] == [2, 2]
    assert [len(call[0]) for call in funcs[1].calls] == [2, 1]
    assert funcs[1].calls[1][0][0] is imgs[6]
    # The hook runs on rank 0 only, with each whole batch.
    assert [len(batch[0][0]) for batch in hook.batches] == [4, 3]
    assert hook.batches[1][1] == ([int(img.sum()) for img in imgs[4:]],
                                  [1] * 3)


def test_comm_with_more_processes_than_examples():
    imgs = images(3)
    with pytest.warns(RuntimeWarning, match='not a multiple'):
        results, funcs, _ = distributed(4, imgs, batch_size=2)
    outs = results[0][1]
    assert outs[0] == [int(img.sum()) for img in imgs]
    assert results[1:] == [None] * 3
    # Ranks without an example in a batch are not called.
    assert [[len(call[0]) for call in func.calls] for func in funcs] == [
        [1, 1], [1], [], []]


def test_comm_with_an_empty_iterator_releases_the_others():
    comms = group(2)

    def rank0():
        with pytest.raises(ValueError, match='no batch'):
            apply_to_iterator(Recorder(), iter([]), comm=comms[0])

    results = run_ranks([rank0, lambda: apply_to_iterator(
        Recorder(), None, comm=comms[1])])
    assert results == [None, None]
