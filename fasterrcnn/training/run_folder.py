"""An output folder is one run: what it holds, and how a command continues it.

``fasterrcnn-train`` writes into its output folder the run's configuration
(``config.yaml``, every path absolute), the log, the plots, the snapshots,
``best.npz`` and, at the end, ``model.npz``; with the monitor, the folders
``tensorboard/`` and ``vis/``. The folder's ``config.yaml`` is the run's
truth:

* ``--out DIR --resume auto`` alone continues exactly the run started
  there. A ``--config`` or ``--set`` given at resume is compared with the
  record: a key of :data:`CHANGEABLE_AT_RESUME` (how long the run goes, its
  evaluations, logs and snapshots) is applied, printed as a difference and
  appended to ``config.yaml``'s history; any other key (the model, the data,
  the optimizer, the seed) would make the snapshot mean something else, and
  is refused with one line naming it.
* A new run (no ``--resume``) into a folder that holds another run is
  refused, nothing touched, unless ``--fresh`` asks to start over: then the
  old run's files (and only those) are removed first.
"""

import datetime
import os
import shutil

from fasterrcnn.config import load_config, save_config
from fasterrcnn.training.snapshot import list_snapshots

CONFIG_FILE = 'config.yaml'
#: The files and folders a run writes into its folder (with its snapshots).
RUN_FILES = (CONFIG_FILE, 'log', 'loss.png', 'map.png', 'model.npz',
             'best.npz')
RUN_FOLDERS = ('tensorboard', 'vis')
#: Keys a resume may change: how long the run goes and what it reports.
CHANGEABLE_AT_RESUME = (
    'train.iterations', 'train.snapshot_every', 'train.keep_snapshots',
    'train.log_every', 'train.tensorboard', 'train.vis_every',
    'train.prefetch', 'eval.every', 'eval.n_images', 'eval.batch_size',
    'eval.metric', 'eval.use_07_metric')
#: The comment lines of ``config.yaml`` that record changes at resume.
HISTORY_MARK = '# changed at resume: '


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (one line: what to do)."""


def run_entries(out):
    """The names in ``out`` that belong to a run (files, snapshots and
    folders), sorted; empty for a missing folder."""
    if not os.path.isdir(out):
        return []
    names = [name for name in RUN_FILES + RUN_FOLDERS
             if os.path.exists(os.path.join(out, name))]
    names += [os.path.basename(path) for _, path in list_snapshots(out)]
    return sorted(names)


def refuse_or_clear(out, fresh):
    """Before a new run into ``out``: refuse when another run is there, or
    (``fresh``) remove that run's files and folders first.

    Raises:
        RunFolderError: ``out`` holds a run and ``fresh`` is False.
    """
    entries = run_entries(out)
    if not entries:
        return
    if not fresh:
        shown = ', '.join(entries[:4]) + (', ...' if len(entries) > 4
                                          else '')
        raise RunFolderError(
            '{} already holds a run ({}): continue it with --out {} '
            '--resume auto, or start over with --fresh (removes that run\'s '
            'files first), or choose another --out'.format(out, shown, out))
    for name in entries:
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def recorded_config(out):
    """The path of the run's recorded configuration, or None."""
    path = os.path.join(out, CONFIG_FILE)
    return path if os.path.isfile(path) else None


def differences(recorded, new):
    """``[(key, recorded value, new value)]`` for every key that differs."""
    old_flat, new_flat = recorded.flat(), new.flat()
    return [(key, old_flat[key], new_flat[key]) for key in old_flat
            if old_flat[key] != new_flat[key]]


def resume_config(out, config_path, overrides):
    """The configuration to continue the run in ``out`` with.

    Args:
        out (str): the run's folder (it has ``config.yaml``).
        config_path (str or None): ``--config`` given at resume.
        overrides (sequence of str): ``--set`` items (and the flags).

    Returns:
        tuple: ``(config, changes)``: the configuration and the
        differences from the record (``[(key, old, new)]``), all of
        :data:`CHANGEABLE_AT_RESUME`.

    Raises:
        RunFolderError: a change that would make the snapshot mean
            something else.
        ConfigError: the record or an override is invalid.
    """
    path = recorded_config(out)
    recorded = load_config(path)
    new = load_config(config_path if config_path else path, overrides)
    changes = differences(recorded, new)
    refused = [change for change in changes
               if change[0] not in CHANGEABLE_AT_RESUME]
    if refused:
        shown = '; '.join('{}: {} in the run, {} given'.format(
            key, _text(old), _text(value)) for key, old, value in refused)
        raise RunFolderError(
            '{}: --resume continues the run recorded in {}, and this would '
            'change what its snapshots mean ({}); leave {} out to continue '
            'the run, or start a new run in another --out (or --fresh)'
            .format(out, path, shown, 'it' if len(refused) == 1 else
                    'them'))
    return new, changes


def _text(value):
    if isinstance(value, tuple):
        value = list(value)
    return 'null' if value is None else str(value)


def describe_changes(changes):
    """One line per change, as printed and recorded."""
    return ['{}: {} -> {}'.format(key, _text(old), _text(new))
            for key, old, new in changes]


def write_config(config, out, changes=(), iteration=None):
    """Writes ``out/config.yaml``: the configuration, after the history
    of earlier changes (kept from the file there) and these ``changes``
    made when resuming at ``iteration``."""
    path = os.path.join(out, CONFIG_FILE)
    history = []
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            history = [line.rstrip('\n') for line in f
                       if line.startswith(HISTORY_MARK)]
    when = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y-%m-%d %H:%M UTC')
    for line in describe_changes(changes):
        history.append('{}iteration {} ({}): {}'.format(
            HISTORY_MARK, iteration, when, line))
    save_config(config, path, history)
