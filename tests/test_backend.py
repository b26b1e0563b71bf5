"""Chainer's settings handed to another thread (backend.py)."""

import threading

import chainer

from fasterrcnn.backend import (caller_config, using_settings,
                                with_caller_settings)


def test_a_thread_works_under_the_callers_settings_and_keeps_none():
    with chainer.using_config('fasterrcnn_test_entry', 'caller'):
        settings = caller_config()
    assert settings['fasterrcnn_test_entry'] == 'caller'
    assert 'fasterrcnn_test_entry' not in caller_config()
    seen = []

    def work():
        seen.append(getattr(chainer.config, 'fasterrcnn_test_entry', None))
        with chainer.using_config('fasterrcnn_test_entry', 'own'):
            with using_settings(settings):
                seen.append(chainer.config.fasterrcnn_test_entry)
            seen.append(chainer.config.fasterrcnn_test_entry)
        seen.append(getattr(chainer.config, 'fasterrcnn_test_entry', None))
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [None, 'caller', 'own', None]


def test_a_wrapped_call_runs_under_the_wrappers_settings_anywhere():
    with chainer.using_config('fasterrcnn_test_entry', 'wrapper'):
        run = with_caller_settings(
            lambda: chainer.config.fasterrcnn_test_entry)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(
        (run(), getattr(chainer.config, 'fasterrcnn_test_entry', None))))
    thread.start()
    thread.join()
    assert seen == [('wrapper', None)]
    assert run() == 'wrapper'
    assert getattr(chainer.config, 'fasterrcnn_test_entry', None) is None
