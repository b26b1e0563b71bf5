"""ProgressBar: in place on a terminal, every tenth as lines elsewhere."""

import io

from fasterrcnn.progress import ProgressBar, format_duration


class FakeClock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_format_duration():
    assert format_duration(0) == '0:00:00'
    assert format_duration(59.6) == '0:01:00'
    assert format_duration(3 * 3600 + 62) == '3:01:02'
    assert format_duration(None) == '?'
    assert format_duration(float('inf')) == '?'
    assert format_duration(float('nan')) == '?'


def test_plain_lines_every_tenth():
    clock, out = FakeClock(), io.StringIO()
    bar = ProgressBar(100, desc='eval', unit='images', stream=out,
                      clock=clock)
    assert not bar.tty
    for i in range(100):
        clock.now += 0.5
        bar.update(i + 1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0] == 'eval: 10/100 images (10%), 2.00 images/s, ' \
                       'ETA 0:00:45'
    assert lines[-1] == 'eval: 100/100 images (100%), 2.00 images/s, ' \
                        'in 0:00:50'
    assert '\r' not in out.getvalue()


def test_few_steps_still_end_with_a_line():
    out = io.StringIO()
    bar = ProgressBar(3, desc='eval', stream=out, clock=FakeClock())
    for i in range(3):
        bar.update(i + 1)
    assert out.getvalue().count('\n') == 3
    assert out.getvalue().splitlines()[-1].startswith('eval: 3/3 items')


def test_terminal_redraws_in_place_throttled():
    clock, out = FakeClock(), FakeTTY()
    bar = ProgressBar(20, desc='eval', unit='images', stream=out,
                      clock=clock, min_interval=1.0)
    assert bar.tty
    for i in range(20):
        clock.now += 0.25
        bar.update(i + 1)
    text = out.getvalue()
    # The first step, then one redraw a second (every 4 steps), then the
    # end: steps 1, 5, 9, 13, 17 and 20.
    assert text.count('\r') == 6
    assert text.endswith('\n') and text.count('\n') == 1
    last = text.split('\r')[-1]
    assert last.startswith('eval [' + '#' * 30 + '] 20/20 images')
    assert '4.00 images/s' in last and 'in 0:00:05' in last
    first = text.split('\r')[1]
    assert '1/20 images' in first and 'ETA 0:00:05' in first


def test_shorter_line_overwrites_a_longer_one():
    clock, out = FakeClock(), FakeTTY()
    bar = ProgressBar(10, stream=out, clock=clock, min_interval=0)
    clock.now += 1000
    bar.update(1)       # slow: long ETA text
    clock.now += 0.001
    bar.update(2)
    first, second = out.getvalue().split('\r')[1:3]
    assert len(second) >= len(first)


def test_close_ends_an_interrupted_line_and_disabled_writes_nothing():
    out = FakeTTY()
    with ProgressBar(10, stream=out, clock=FakeClock()) as bar:
        bar.update(3)
    assert out.getvalue().endswith('\n')

    out = io.StringIO()
    bar = ProgressBar(10, stream=out, enabled=False)
    bar.update(10)
    bar.close()
    assert out.getvalue() == ''
    assert bar.done == 10


def test_nothing_to_do_writes_nothing():
    out = FakeTTY()
    with ProgressBar(0, stream=out) as bar:
        bar.update(0)
    assert out.getvalue() == ''
