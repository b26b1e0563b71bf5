"""Bad examples of a data set: the error that names them, finding them
before training, and leaving them out (``data.bad_examples``).

An example is bad when its files cannot give a valid ``(img, bbox,
label)``: an image missing, empty, truncated or not an image; an annotation
missing, malformed, truncated or with an object without a box; an unknown
class name; non-numeric, inverted or zero-area coordinates; a box wholly
outside the image. The readers raise :class:`BadExampleError` for each, one
line naming the file (and the object) and what is wrong. Unusual but valid
examples are not bad: an image without objects, float coordinates, boxes
touching or slightly crossing the border (clipped to the image),
difficult-only images.

Two policies (:data:`POLICIES`): ``'error'`` stops at the first bad example
with its message; ``'skip'`` leaves bad examples out, warns once, and lists
them in a file (:class:`BadExampleLog`).
"""

import os
import sys
import threading

import chainer

from fasterrcnn.progress import Progress

#: The values of ``data.bad_examples``.
POLICIES = ('error', 'skip')
#: Where a run lists the examples it left out (in its output directory).
BAD_EXAMPLES_FILE = 'bad_examples.txt'


class BadExampleError(ValueError):
    """One example of a data set is unusable; the message is one line that
    names the file and what is wrong with it."""


class MissingExampleFileError(BadExampleError, FileNotFoundError):
    """An example's image or annotation file does not exist."""


def one_line(error):
    """An error's text on one line: its first argument, as raised; for an
    operating system error, its file and reason."""
    if isinstance(error, OSError) and error.strerror and \
            len(error.args) > 1:
        text = '{}{}'.format(
            '{}: '.format(error.filename) if error.filename else '',
            error.strerror)
    else:
        text = str(error.args[0]) if error.args else str(error)
    return ' '.join(text.split()) or type(error).__name__


def scan(dataset, progress=False, desc='checking'):
    """Find the bad examples without decoding images.

    Every annotation is parsed and every image's header read
    (``dataset.check_example``), which takes milliseconds an example: what
    only decoding shows (a truncated image) is found when the example is
    read.

    Args:
        dataset: has ``check_example(i)`` and ``ids``, and ``len``.
        progress (bool): a progress bar on stderr.
        desc (str): the bar's label.

    Returns:
        list of tuple: ``(index, id, message)`` of each bad example, in data
        set order.
    """
    bad = []
    with Progress(len(dataset), desc=desc, unit='examples',
                  enabled=progress) as bar:
        for i in range(len(dataset)):
            try:
                dataset.check_example(i)
            except BadExampleError as e:
                bad.append((i, dataset.ids[i], one_line(e)))
            bar.update(i + 1)
    return bad


class BadExampleLog(object):
    """The bad examples a run left out: the file that lists them, the one
    warning and the closing line.

    Each line of the file is ``<name>\t<message>``; it is written as
    examples are found (the file appears with the first), so that it is
    complete whenever the run stops.

    Args:
        path (str or None): the file; None keeps the list in memory.
        stream: where the warning goes (stderr when None).
    """

    def __init__(self, path=None, stream=None):
        self.path = path
        self.stream = stream
        self.entries = []
        self._lock = threading.Lock()

    def add(self, name, message):
        """Record one bad example (once); the first is also a warning.

        Args:
            name (str): the example, e.g. ``'trainval/000005'``.
            message (str): what is wrong, one line.
        """
        with self._lock:   # the prefetch thread reads examples too
            if any(entry[0] == name for entry in self.entries):
                return
            self.entries.append((name, message))
            if self.path is not None:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)),
                            exist_ok=True)
                with open(self.path, 'a' if len(self.entries) > 1 else 'w',
                          encoding='utf-8') as f:
                    f.write('{}\t{}\n'.format(name, message))
            if len(self.entries) == 1:
                where = ' (every one left out is listed in {})'.format(
                    self.path) if self.path is not None else ''
                print('warning: bad example left out: {}{}'.format(
                    message, where), file=self.stream or sys.stderr,
                    flush=True)

    def summary(self):
        """The closing line, or None when nothing was left out."""
        n = len(self.entries)
        if n == 0:
            return None
        if self.path is not None:
            where = ' (see {})'.format(self.path)
        else:
            where = ': ' + ', '.join(name for name, _ in self.entries)
        return 'skipped {} bad example{}{}'.format(
            n, '' if n == 1 else 's', where)


class Subset(chainer.dataset.DatasetMixin):
    """The examples ``indices`` of a data set, in that order, with their
    ``ids``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = list(indices)
        self.ids = [dataset.ids[i] for i in self.indices]
        self.label_names = getattr(dataset, 'label_names', None)

    def __len__(self):
        return len(self.indices)

    def get_example(self, i):
        return self.dataset[self.indices[i]]

    def check_example(self, i):
        return self.dataset.check_example(self.indices[i])


class SkipBadExamples(chainer.dataset.DatasetMixin):
    """For training: a bad example met when read is replaced by the next.

    Reading example ``i`` that raises :class:`BadExampleError` records it
    in ``log`` and reads ``i + 1`` instead (then ``i + 2`` ..., wrapping
    around); the replacement depends on ``i`` only, so a resumed run reads
    the same examples.

    Args:
        dataset: the data set (``ids`` names its examples).
        log (BadExampleLog): where the bad ones are recorded.
        prefix (str): put before an id in the log (the split).
    """

    def __init__(self, dataset, log, prefix=''):
        self.dataset = dataset
        self.log = log
        self.prefix = prefix
        self.ids = dataset.ids
        self.label_names = getattr(dataset, 'label_names', None)

    def __len__(self):
        return len(self.dataset)

    def get_example(self, i):
        n = len(self.dataset)
        for k in range(n):
            index = (i + k) % n
            try:
                return self.dataset[index]
            except BadExampleError as e:
                self.log.add(self.prefix + self.ids[index], one_line(e))
        raise BadExampleError('every example of the data set is bad ({})'
                              .format(self.log.summary()))


class DropBadExamples(SkipBadExamples):
    """For evaluation: a bad example met when read is recorded and read as
    None, which the evaluation leaves out (no image counts twice)."""

    def get_example(self, i):
        try:
            return self.dataset[i]
        except BadExampleError as e:
            self.log.add(self.prefix + self.ids[i], one_line(e))
            return None


def apply_policy(dataset, policy, log, prefix='', progress=False,
                 evaluation=False):
    """Check a data set up front and apply ``data.bad_examples``.

    Args:
        dataset: a VOC-style data set (``check_example``, ``ids``).
        policy (str): ``'error'`` or ``'skip'``.
        log (BadExampleLog): records what ``'skip'`` leaves out.
        prefix (str): put before ids in messages and the log (the split).
        progress (bool): a progress bar while checking.
        evaluation (bool): bad examples met later are dropped (None) rather
            than replaced by the next one.

    Returns:
        the data set to use: the same one (``'error'``, nothing bad found),
        or the good examples, guarded against what only reading shows.

    Raises:
        BadExampleError: with ``'error'``, for the first bad example (the
            message says how many more there are and how to skip them).
    """
    if policy not in POLICIES:
        raise ValueError('bad_examples must be one of {}, got {!r}'.format(
            POLICIES, policy))
    bad = scan(dataset, progress=progress,
               desc='checking {}'.format(prefix.rstrip('/') or 'data'))
    if policy == 'error':
        if bad:
            more = len(bad) - 1
            raise BadExampleError('{}{}'.format(bad[0][2], (
                ' (and {} more bad example{}; set data.bad_examples=skip to '
                'leave them out)'.format(more, '' if more == 1 else 's'))
                if more else ' (set data.bad_examples=skip to leave such '
                'examples out)'))
        return dataset
    for _, example_id, message in bad:
        log.add(prefix + example_id, message)
    if bad:
        dataset = Subset(dataset, sorted(set(range(len(dataset))) -
                                         {i for i, _, _ in bad}))
    guard = DropBadExamples if evaluation else SkipBadExamples
    return guard(dataset, log, prefix)
