"""Progress: tqdm's bar on a terminal, one summary line elsewhere."""

import io

from fasterrcnn.progress import Progress


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_one_plain_line_at_the_end_without_a_terminal():
    out = io.StringIO()
    with Progress(4, desc='eval', unit='images', stream=out) as bar:
        for i in range(4):
            bar.update(i + 1)
        assert out.getvalue() == ''     # nothing while it runs
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('eval: 4/4 images (100%) in ')
    assert lines[0].endswith(' images/s')


def test_tqdm_bar_on_a_terminal():
    out = FakeTTY()
    with Progress(3, desc='shapes', unit='images', stream=out) as bar:
        for i in range(3):
            bar.update(i + 1)
    text = out.getvalue()
    assert '\r' in text and 'shapes' in text and '3/3' in text


def test_disabled_or_empty_writes_nothing():
    for total, enabled in ((5, False), (0, True)):
        out = FakeTTY()
        with Progress(total, desc='x', stream=out, enabled=enabled) as bar:
            bar.update(total)
        assert out.getvalue() == ''
        assert bar.elapsed() >= 0
