"""Atomic trainer snapshots, the one policy of resuming from them, random
states.

A snapshot is the npz that :func:`chainer.serializers.save_npz` writes for
a :class:`chainer.training.Trainer` (model, optimizer, iterators, extension
and trigger states), named ``snapshot_iter_<N>.npz`` after the iteration
``N``. It is written to a temporary file in the same directory (a name
that starts with ``.`` and ends with ``.tmp``), flushed and fsync'ed, and
only then renamed to its real name with :func:`os.replace`, so a crash never
leaves a half-written file under a snapshot name: every file with such a
name is complete.

A resumed run continues its random draws exactly without saving them: each
example's flip and target sampling draw from a state derived from the run's
seed and the example's place in the global order
(:mod:`fasterrcnn.creators.seeding`). The one state carried from draw to
draw, the iterator's shuffling order, is written into the snapshot through
:class:`RandomStateHolder` (:mod:`fasterrcnn.training.iterator`).
"""

import os
import re

import chainer
import numpy
from chainer import serializer as serializer_module
from chainer import training

from fasterrcnn.atomic import atomic_write
from fasterrcnn.data.bad_examples import one_line
from fasterrcnn.safe_npz import DamagedFileError, load_npz, open_npz
from fasterrcnn.weights.model_io import META_KEY

SNAPSHOT_PREFIX = 'snapshot_iter_'
SNAPSHOT_SUFFIX = '.npz'
_SNAPSHOT_RE = re.compile(r'^snapshot_iter_([0-9]+)\.npz$')


class SnapshotNotFoundError(FileNotFoundError):
    """No snapshot where one was asked for."""


def snapshot_name(iteration):
    """``'snapshot_iter_<iteration>.npz'``."""
    return '{}{}{}'.format(SNAPSHOT_PREFIX, int(iteration), SNAPSHOT_SUFFIX)


def list_snapshots(out_dir):
    """The snapshots of a directory, oldest first.

    Only files named ``snapshot_iter_<N>.npz`` count; temporary files of a
    write in progress (or of one that crashed) do not.

    Args:
        out_dir (str): the directory; a missing one has no snapshots.

    Returns:
        list of (int, str): ``(iteration, path)`` sorted by iteration.
    """
    try:
        names = os.listdir(out_dir)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        match = _SNAPSHOT_RE.match(name)
        if match is None:
            continue
        path = os.path.join(out_dir, name)
        if os.path.isfile(path):
            found.append((int(match.group(1)), path))
    found.sort()
    return found


def prune_snapshots(out_dir, keep):
    """Deletes all but the ``keep`` newest snapshots of ``out_dir``.

    Args:
        out_dir (str): the directory.
        keep (int or None): how many to keep (at least 1); None keeps all.

    Returns:
        list of str: the deleted paths.
    """
    if keep is None:
        return []
    if keep < 1:
        raise ValueError('keep must be at least 1, got {}'.format(keep))
    deleted = []
    for _, path in list_snapshots(out_dir)[:-keep]:
        try:
            os.remove(path)
        except FileNotFoundError:
            continue
        deleted.append(path)
    return deleted


def write_snapshot(target, out_dir, iteration, keep=3, compression=True):
    """Writes ``out_dir/snapshot_iter_<iteration>.npz`` atomically.

    The object is serialised with :func:`chainer.serializers.save_npz` into a
    temporary file of ``out_dir``, which is flushed, fsync'ed and then
    renamed with :func:`os.replace`; on any error the temporary file is
    removed and the error raised, and existing snapshots are untouched.
    After the rename, all but the ``keep`` newest snapshots are deleted.

    Args:
        target: a :class:`chainer.training.Trainer` or anything that
            :func:`chainer.serializers.save_npz` can save (a Link, ...).
        out_dir (str): the directory (created if missing).
        iteration (int): the number in the file name.
        keep (int or None): how many snapshots to keep; None keeps all.
        compression (bool): compress the npz.

    Returns:
        str: the path of the snapshot.
    """
    if keep is not None and keep < 1:
        raise ValueError('keep must be at least 1, got {}'.format(keep))
    os.makedirs(out_dir, exist_ok=True)
    name = snapshot_name(iteration)
    path = os.path.join(out_dir, name)
    with atomic_write(path) as f:
        chainer.serializers.save_npz(f, target, compression=compression)
    prune_snapshots(out_dir, keep)
    return path


def snapshot_candidates(path, auto=False):
    """The snapshots to resume from, newest first.

    Args:
        path (str): with ``auto=True``, the output directory of the run
            (``--resume auto``); otherwise a directory (its snapshots) or a
            snapshot file (``--resume DIR`` or ``--resume FILE``).
        auto (bool): a missing directory or one without snapshots gives an
            empty list instead of an error.

    Returns:
        list of str: the paths; a file given without ``auto`` is the one
        entry.

    Raises:
        SnapshotNotFoundError: ``path`` does not exist, or (without
            ``auto``) is a directory without snapshots.
    """
    path = os.fspath(path)
    if os.path.isfile(path) and not auto:
        return [path]
    if not os.path.isdir(path):
        if auto and not os.path.exists(path):
            return []
        raise SnapshotNotFoundError(
            'no snapshot: {} is not a directory or file'.format(path))
    found = [candidate for _, candidate in reversed(list_snapshots(path))]
    if not found and not auto:
        raise _no_snapshot_in(path)
    return found


def _no_snapshot_in(path):
    return SnapshotNotFoundError('no snapshot ({}<N>{}) in {}'.format(
        SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX, path))


class NonFiniteWeightsError(ArithmeticError):
    """A parameter holds NaN or inf; nothing was written."""


def check_finite_params(link):
    """Raise :class:`NonFiniteWeightsError` naming the first parameter of
    ``link`` that holds NaN or inf (a snapshot of them would be useless to
    resume from)."""
    for name, param in link.namedparams():
        if param.array is None:
            continue
        xp = chainer.backend.get_array_module(param.array)
        if not bool(xp.isfinite(param.array).all()):
            raise NonFiniteWeightsError(
                'parameter {} holds NaN or inf; no snapshot was written'
                .format(name))


class _SnapshotTrigger(object):
    """Fires when ``interval`` fires or at the trainer's last iteration.

    The last iteration is known when the stop trigger has
    ``get_training_length()`` (as the one made from ``stop_trigger=(N,
    'iteration')`` or ``(N, 'epoch')`` does).
    """

    def __init__(self, interval):
        self.interval = training.get_trigger(interval)

    def __call__(self, trainer):
        fire = self.interval(trainer)  # always called: it keeps state
        return fire or _is_last_iteration(trainer)

    def serialize(self, serializer):
        if hasattr(self.interval, 'serialize'):
            self.interval.serialize(serializer['interval'])


def _is_last_iteration(trainer):
    length = getattr(trainer.stop_trigger, 'get_training_length', None)
    if length is None:
        return False
    period, unit = length()
    updater = trainer.updater
    if unit == 'iteration':
        return updater.iteration >= period
    return updater.epoch_detail >= period


class AtomicSnapshot(training.Extension):
    """Trainer extension: :func:`write_snapshot` of the whole trainer.

    Writes ``trainer.out/snapshot_iter_<N>.npz`` when ``trigger`` fires and
    at the last iteration (when the stop trigger tells its length), keeping
    the ``keep`` newest; weights with NaN or inf are refused
    (:class:`NonFiniteWeightsError`) rather than written. Its priority is
    below that of the usual extensions, so that the snapshot holds their
    state after this iteration.

    Args:
        keep (int or None): how many snapshots to keep; None keeps all.
        trigger: a trigger or ``(period, unit)``.
        compression (bool): compress the npz.
    """

    priority = -100
    default_name = 'atomic_snapshot'

    def __init__(self, keep=3, trigger=(1, 'epoch'), compression=True):
        if keep is not None and keep < 1:
            raise ValueError('keep must be at least 1, got {}'.format(keep))
        self.keep = keep
        self.compression = compression
        self.trigger = _SnapshotTrigger(trigger)

    def __call__(self, trainer):
        check_finite_params(trainer.updater.get_optimizer('main').target)
        write_snapshot(trainer, trainer.out, trainer.updater.iteration,
                       keep=self.keep, compression=self.compression)


class RandomStateHolder(training.Extension):
    """Puts a :class:`numpy.random.RandomState` into (and back from) a
    snapshot.

    ``serialize`` saves the full Mersenne Twister state that
    ``get_state()`` gives, as arrays: ``key`` (624 uint32), ``pos``,
    ``has_gauss`` and ``cached_gaussian``; loading calls ``set_state()`` on
    the same RandomState object, so whoever draws from it continues exactly
    where the saved run was.

    It is a trainer extension that never runs (its trigger never fires), only
    so that ``trainer.extend(holder, name='augment_random_state')`` makes
    the trainer's snapshot carry it; give each holder its own name. It can
    also be serialised on its own or as a child of another object.

    Args:
        random_state (numpy.random.RandomState): the state to hold; None makes
            one from ``seed``.
        seed (int or None): seed of the new RandomState.

    Attributes:
        random_state (numpy.random.RandomState): the held object.
    """

    trigger = None  # never fires
    default_name = 'random_state'

    def __init__(self, random_state=None, seed=None):
        if random_state is None:
            random_state = numpy.random.RandomState(seed)
        elif seed is not None:
            raise ValueError('give random_state or seed, not both')
        self.random_state = random_state

    def __call__(self, trainer):
        pass

    def serialize(self, serializer):
        name, key, pos, has_gauss, cached = self.random_state.get_state()
        if name != 'MT19937':
            raise ValueError('unsupported random state {!r}'.format(name))
        key = numpy.array(key, dtype=numpy.uint32)
        pos = numpy.array(pos, dtype=numpy.int64)
        has_gauss = numpy.array(has_gauss, dtype=numpy.int64)
        cached = numpy.array(cached, dtype=numpy.float64)
        serializer('key', key)
        serializer('pos', pos)
        serializer('has_gauss', has_gauss)
        serializer('cached_gaussian', cached)
        if isinstance(serializer, serializer_module.Deserializer):
            # The arrays were filled in place from the snapshot.
            self.random_state.set_state(
                ('MT19937', key, int(pos), int(has_gauss), float(cached)))


class NotASnapshotError(ValueError):
    """A file given to resume from is a model file, not a snapshot."""


def refuse_model_file(path):
    """Raise :class:`NotASnapshotError`, saying what to do instead, when
    ``path`` is a model file (a run's ``model.npz``)."""
    with open_npz(path) as f:
        if META_KEY in f.files:
            raise NotASnapshotError(
                '--resume {0}: this is a model file (a run\'s model.npz), '
                'not a trainer snapshot; to start training from its weights '
                'use --set model.init_from={0}; to continue a run give its '
                'snapshot_iter_<N>.npz or --resume auto'.format(path))


def load_newest(trainer, candidates, warn):
    """Load the newest loadable snapshot of ``candidates`` into ``trainer``:
    the one policy of resuming.

    A damaged file (truncated or corrupted, e.g. by a copy cut short) is
    skipped with a warning, and the one before it tried; any other refusal
    (a snapshot of another configuration, a model file) is an error.

    Args:
        trainer (chainer.training.Trainer): the run to load into.
        candidates (list of str): snapshot paths, newest first
            (:func:`snapshot_candidates`).
        warn (callable): takes the one-line warning of a skipped file.

    Returns:
        str or None: the snapshot loaded.
    """
    for k, path in enumerate(candidates):
        try:
            refuse_model_file(path)
            # Read as data only: nothing in a snapshot is unpickled or run.
            load_npz(path, trainer, what='trainer snapshot')
        except DamagedFileError as e:
            if k + 1 == len(candidates):
                raise
            warn('{}; trying the previous snapshot, {}'.format(
                one_line(e), candidates[k + 1]))
            continue
        return path
    return None


def describe_newest(out):
    """Where the run's work is, for messages: the newest snapshot of
    ``out``."""
    found = list_snapshots(out)
    if not found:
        return 'no snapshot has been written yet'
    return 'the newest snapshot, {}, is intact'.format(found[-1][1])
