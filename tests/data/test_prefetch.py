"""Reading ahead on a thread (data/prefetch.py): a cache keyed by what it
computes, errors raised to the caller that asks for the result."""

import threading

import pytest

from fasterrcnn.data.prefetch import Prefetcher, read_ahead


def test_the_result_computed_ahead_is_taken_for_its_key():
    threads = []

    def work():
        threads.append(threading.current_thread().name)
        return 'ahead'
    prefetcher = Prefetcher()
    prefetcher.start(('a', 1), work)
    assert prefetcher.take(('a', 1), lambda: 'now') == 'ahead'
    assert threads == ['fasterrcnn-prefetch']
    # taken once: the next take computes
    assert prefetcher.take(('a', 1), lambda: 'now') == 'now'


def test_another_key_is_computed_on_the_caller():
    prefetcher = Prefetcher()
    prefetcher.start('expected', lambda: 'ahead')
    assert prefetcher.take('rewound', lambda: 'now') == 'now'
    assert prefetcher.take('expected', lambda: 'now') == 'now'


def test_errors_are_raised_by_take_for_that_key_only():
    def broken():
        raise ValueError('bad example 7')
    prefetcher = Prefetcher()
    prefetcher.start(7, broken)
    with pytest.raises(ValueError, match='bad example 7'):
        prefetcher.take(7, lambda: 'now')
    prefetcher.start(7, broken)
    assert prefetcher.take(8, lambda: 'fine') == 'fine'


def test_disabled_computes_everything_in_take():
    prefetcher = Prefetcher(enabled=False)
    prefetcher.start(1, lambda: pytest.fail('ran ahead'))
    assert prefetcher.take(1, lambda: 'now') == 'now'


def test_cancel_forgets_the_work_ahead():
    release = threading.Event()
    prefetcher = Prefetcher()
    prefetcher.start(1, lambda: release.wait(10) and 'ahead')
    prefetcher.cancel()
    assert prefetcher.take(1, lambda: 'now') == 'now'
    release.set()


def test_read_ahead_yields_every_item_taking_the_next_on_a_thread():
    taken = []

    def items():
        for i in range(4):
            taken.append((i, threading.current_thread().name))
            yield i
    assert list(read_ahead(items())) == [0, 1, 2, 3]
    assert [name for _, name in taken] == ['fasterrcnn-prefetch'] * 4
    assert list(read_ahead(items(), enabled=False)) == [0, 1, 2, 3]
    assert list(read_ahead([])) == []


def test_read_ahead_raises_at_the_item_that_failed():
    def items():
        yield 'a'
        raise OSError('image 2 unreadable')
    got = read_ahead(items())
    assert next(got) == 'a'
    with pytest.raises(OSError, match='image 2 unreadable'):
        next(got)


def test_the_thread_sees_the_callers_chainer_config():
    import chainer
    prefetcher = Prefetcher()
    with chainer.using_config('fasterrcnn_test_entry', 'caller'):
        prefetcher.start(1, lambda: chainer.config.fasterrcnn_test_entry)
    assert prefetcher.take(1, lambda: 'now') == 'caller'
