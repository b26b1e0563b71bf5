"""Chainer's settings handed to another thread (backend.py)."""

import threading

import chainer

from fasterrcnn.backend import caller_config, using_settings


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
