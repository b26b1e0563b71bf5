"""``fasterrcnn-train`` (``train_chainer.py``): train with the Trainer.

    fasterrcnn-train --config configs/NAME.yaml [--out DIR] [--gpu N]
        [--resume DIR|auto|FILE] [--fresh] [--iterations N]
        [--snapshot-every N] [--set KEY=VALUE ...] [--help-config]
        [--no-progress]
    fasterrcnn-train --out DIR --resume auto [--iterations N] [--set ...]

The output directory receives the resolved configuration (config.yaml), the
log (log), loss and mAP plots (loss.png, map.png), snapshots written
atomically (snapshot_iter_<N>.npz, the newest train.keep_snapshots kept)
and, at the end, model.npz (weights with architecture and class names, for
fasterrcnn-eval). At the start it prints a summary of the data (classes
and where their names came from, images and objects per split) and a
warning for each part of the configuration that cannot do what it seems to
(VOC class names assumed for want of a labels.txt, evaluations, rate
shifts, snapshots or log lines past the last iteration); its last line
names model.npz and the command that evaluates it.

An output folder is one run (:mod:`fasterrcnn.training.run_folder`): its
``config.yaml`` (every path absolute) is the run's truth. ``--out DIR
--resume auto`` alone continues the run started there from its newest
complete snapshot (or starts it when there is none; a damaged one is
skipped with a warning); ``--resume DIR`` from the newest in DIR;
``--resume FILE`` from that snapshot. A ``--set`` (or ``--config``,
``--iterations``) given at resume may change how long the run goes and what
it reports: each change is printed and kept in ``config.yaml``'s history;
any other change is refused. A snapshot past the end of the run is refused
with nothing written; a finished run has nothing to do. A new run into a
folder that holds another is refused, or with ``--fresh`` the old run's
files are removed first. Snapshots are read as data: nothing in them runs.

Exit status: 0 done; 2 a mistake in the input (one line naming it: the
config, a file, a bad example); 3 a fault (a NaN or infinite loss, a full
disk: one line, and the newest snapshot is intact); 130 / 143 stopped by
SIGINT / SIGTERM, after writing a snapshot of the iteration reached.
"""

import argparse
import errno
import os
import signal
import sys
import time

import fasterrcnn  # noqa: F401  (chainer through the compat import)
from fasterrcnn.artifacts.fetch import FetchError
from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.cli.common import (EXIT_FAULT, EXIT_USER_ERROR, USER_ERRORS,
                                   RunFault, UserError, add_config_flags,
                                   add_device_flags, error_message,
                                   run_command, select_gpu)
from fasterrcnn.cli.train_messages import (PROG, eval_hint, finished,
                                           report_start)
from fasterrcnn.config import dump_config, load_config, print_config_help
from fasterrcnn.data.bad_examples import BadExampleError
from fasterrcnn.training.builder import build_trainer
from fasterrcnn.training.distributed import (MismatchError, check_same_run,
                                             create_communicator,
                                             run_fingerprint)
from fasterrcnn.training.guard import (STOP_SIGNALS, NonFiniteLossError,
                                       StopOnSignal, signals_stop,
                                       snapshot_now)
from fasterrcnn.training.run_folder import (describe_changes, recorded_config,
                                            refuse_or_clear, resume_config,
                                            write_config)
from fasterrcnn.training.snapshot import (NonFiniteWeightsError,
                                          NotASnapshotError, describe_newest,
                                          load_newest, snapshot_candidates)

#: Seconds between an error line and MPI's abort (see :func:`run`).
ABORT_GRACE_SECONDS = 0.5
#: The errors of a full disk (or quota, or file size limit).
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def build_parser(prog=PROG):
    parser = argparse.ArgumentParser(
        prog=prog, description='Train Faster R-CNN (Chainer Trainer).',
        epilog='Every config key, with its default: --help-config.')
    add_config_flags(parser)
    add_device_flags(parser)
    parser.add_argument('--out', help='output directory (default: '
                        'result/<config name>)')
    parser.add_argument('--resume', help="'auto' (the run in --out, as "
                        "recorded in its config.yaml), a directory or a "
                        "snapshot")
    parser.add_argument('--fresh', action='store_true',
                        help='start over in an --out that holds another run: '
                             "remove that run's files first")
    parser.add_argument('--iterations', type=int,
                        help='override train.iterations')
    parser.add_argument('--snapshot-every', type=int,
                        help='override train.snapshot_every')
    parser.add_argument('--help-config', action='store_true',
                        help='list every config key with its default')
    parser.add_argument('--communicator', metavar='NAME',
                        help='train over the processes of mpiexec with this '
                             'ChainerMN communicator (naive on the CPU, '
                             'pure_nccl on GPUs: one process per GPU, '
                             '--gpu N then means GPU N + local rank)')
    # The name it runs under, for the closing hint's evaluation command.
    parser.set_defaults(prog=prog)
    return parser


def _overrides(args):
    """--set, then the dedicated flags, as overrides."""
    overrides = list(args.set)
    if args.iterations is not None:
        overrides.append('train.iterations={}'.format(args.iterations))
    if args.snapshot_every is not None:
        overrides.append('train.snapshot_every={}'.format(
            args.snapshot_every))
    return overrides


def resolve_config(args):
    """The configuration: file, then --set, then the dedicated flags."""
    return load_config(args.config, _overrides(args))


def _out_dir(args):
    if args.out:
        return args.out
    if args.config is None:
        _require_config(args)
        raise UserError('--out DIR is required without --config: the '
                        'folder of the run to continue')
    return os.path.join(
        'result', os.path.splitext(os.path.basename(args.config))[0])


def _record_folder(args, out):
    """The folder whose config.yaml records the run being resumed: --out's
    when it has one; without --config, the snapshot's own folder."""
    if recorded_config(out) or args.resume == 'auto' or \
            args.config is not None:
        return out
    if os.path.isdir(args.resume):
        return args.resume
    return os.path.dirname(os.path.abspath(args.resume))


def _require_config(args):
    if args.resume is None and args.config is None:
        raise UserError('--config is required for a new run (see '
                        'configs/); to continue the run in a folder: '
                        '--out DIR --resume auto')


def run_config(args, out, writer=True):
    """The configuration of this command, and the changes made at resume.

    A new run: ``--config`` and the overrides; the folder must not hold
    another run (``--fresh``: its files are removed, by the ``writer``).
    A resumed run: the recorded ``config.yaml``, with the changes of
    :func:`~fasterrcnn.training.run_folder.resume_config`.

    Returns:
        tuple: ``(config, changes)``.
    """
    if args.resume is None:
        _require_config(args)
        config = resolve_config(args)
        # With --fresh only the writer looks: the others would find the
        # folder half cleared.
        if writer or not args.fresh:
            refuse_or_clear(out, args.fresh)
        return config, []
    if args.fresh:
        raise UserError('--fresh starts a new run: leave out --resume')
    folder = _record_folder(args, out)
    if recorded_config(folder) is None:
        if args.config is None:
            raise UserError('--resume {}: {} has no config.yaml recording '
                            'the run; give its --config'.format(
                                args.resume, folder))
        return resolve_config(args), []
    return resume_config(folder, args.config, _overrides(args))


def _warn(message):
    print('warning: {}'.format(message), file=sys.stderr, flush=True)


def setup(args, comm=None):
    """Everything before the first iteration: ``(trainer, config, out,
    changes)``, ``changes`` those made at resume.

    Every mistake in the input shows here, before any output is written
    (but the bad example list, under ``data.bad_examples: skip``), and a
    snapshot past the end of the run too.
    """
    out = _out_dir(args)
    config, changes = run_config(args, out,
                                 writer=comm is None or comm.rank == 0)
    device = args.gpu
    if comm is not None and device >= 0:
        device += comm.intra_rank
    select_gpu(device)
    # --resume auto: the newest snapshots of the output directory (none:
    # start afresh); --resume DIR: those of DIR; --resume FILE: that one.
    candidates = [] if args.resume is None else snapshot_candidates(
        out if args.resume == 'auto' else args.resume,
        auto=args.resume == 'auto')
    keep_freed_memory()
    try:
        trainer, _, _ = build_trainer(
            config, out, device=device,
            progress=False if args.no_progress else None, comm=comm)
    except BadExampleError:
        raise
    except FetchError as e:
        # The network (or offline mode) while fetching data or weights.
        raise RunFault(error_message(e)) from None
    except (KeyError, ValueError) as e:
        # The data set's readers name the file and line at fault.
        raise UserError(e.args[0] if e.args else e) from None
    if comm is not None:
        iterator = trainer.updater.get_iterator('main')
        try:
            check_same_run(comm, run_fingerprint(
                dump_config(config), list(iterator.dataset.ids)))
        except MismatchError as e:
            raise UserError(error_message(e)) from None
    try:
        snapshot = load_newest(trainer, candidates, warn=_warn)
    except NotASnapshotError as e:
        raise UserError(error_message(e)) from None
    iteration, end = trainer.updater.iteration, config.train.iterations
    if snapshot is not None and iteration > end:
        raise UserError(
            '{} is at iteration {}, past the end of the run '
            '(train.iterations {}): nothing was written; to train on, give '
            '--iterations N with N > {}'.format(snapshot, iteration, end,
                                                iteration))
    if snapshot is not None and (comm is None or comm.rank == 0) and \
            iteration < end:
        print('resuming from {}'.format(snapshot), flush=True)
    return trainer, config, out, changes


def run(args):
    if args.help_config:
        print_config_help()
        return 0
    if args.communicator is None:
        return _train(args, None)
    try:
        comm = create_communicator(args.communicator)
    except ValueError as e:
        raise UserError(error_message(e)) from None
    try:
        return _train(args, comm)
    except (USER_ERRORS + (RunFault,)) as e:
        # One process's error stops them all (MPI's abort), rather than
        # leave the others waiting for it for ever.
        status = EXIT_FAULT if isinstance(e, RunFault) else EXIT_USER_ERROR
        print('{}: error: rank {}: {}'.format(PROG, comm.rank,
                                              error_message(e)),
              file=sys.stderr, flush=True)
        # mpiexec forwards each process's output through a proxy; an abort
        # at once can end the group before the line is forwarded (seen
        # once, on a loaded machine: status 2 and an empty stderr).
        time.sleep(ABORT_GRACE_SECONDS)
        comm.mpi_comm.Abort(status)
        return status


def _train(args, comm):
    trainer, config, out, changes = setup(args, comm)
    writer = comm is None or comm.rank == 0
    if trainer.updater.iteration == config.train.iterations:
        return finished(trainer, config, out, writer, args.prog)
    if writer:
        report_start(config)
        os.makedirs(out, exist_ok=True)
        for line in describe_changes(changes):
            print('changed at resume: {}'.format(line), flush=True)
        if changes or args.resume is None or \
                recorded_config(out) is None:
            write_config(config, out, changes, trainer.updater.iteration)
    stop = StopOnSignal(trainer.stop_trigger,
                        keep=config.train.keep_snapshots, comm=comm)
    trainer.stop_trigger = stop
    try:
        with signals_stop(stop):
            trainer.run(show_loop_exception_msg=False)
    except BadExampleError as e:
        if comm is not None:
            raise
        # Met while reading (data.bad_examples: error): the iterator is
        # where it was, so this snapshot holds the last complete iteration.
        path = snapshot_now(trainer, config.train.keep_snapshots)
        if path is None:
            raise UserError(
                '{}; the run stopped before its first update: fix the file '
                '(or --set data.bad_examples=skip) and run again'.format(
                    error_message(e))) from None
        raise UserError(
            '{}; the run stopped at iteration {} and wrote {}: fix the file '
            '(or --set data.bad_examples=skip), then --resume auto'.format(
                error_message(e), trainer.updater.iteration, path)) from None
    except (NonFiniteLossError, NonFiniteWeightsError) as e:
        raise RunFault('{}; the run stopped and {}: lower train.lr (or look '
                       'at the data), then --resume auto'.format(
                           error_message(e), describe_newest(out))) from None
    except KeyboardInterrupt:
        print('stopped at once at iteration {}; {}; continue with --resume '
              'auto'.format(trainer.updater.iteration, describe_newest(out)),
              file=sys.stderr)
        return 128 + signal.SIGINT
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        raise RunFault('{} while writing {}; {}: free some space, then '
                       '--resume auto'.format(
                           os.strerror(e.errno), e.filename or 'in ' + out,
                           describe_newest(out))) from None
    summary = trainer.bad_example_log.summary()
    if summary and writer:
        print(summary)
    if stop.signum is not None and writer:
        name = signal.Signals(stop.signum).name
        if stop.snapshot is None:
            print('stopped by {} before the first update'.format(name),
                  flush=True)
        else:
            print('stopped by {} at iteration {}: snapshot {}; continue '
                  'with --resume auto'.format(name, trainer.updater.iteration,
                                              stop.snapshot), flush=True)
    if stop.signum is not None:
        return 128 + stop.signum
    if writer:
        print(eval_hint(config, out, args.prog), flush=True)
    return 0


def main(argv=None, prog=PROG):
    """Command-line entry point; returns the exit status (2: bad input)."""
    return run_command(prog, build_parser(prog), run, argv)


def console_main(argv=None, prog=PROG):
    """The program's entry point (``fasterrcnn-train``, ``train_chainer.py``):
    :func:`main`, then SIGINT and SIGTERM ignored while the interpreter
    exits, so that a Ctrl-C sent after the run has already stopped (the
    second of two, 0.1-0.3 s apart) is not a traceback from the shutdown.
    """
    status = main(argv, prog)
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    return status


if __name__ == '__main__':
    sys.exit(console_main())
