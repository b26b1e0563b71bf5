"""``fasterrcnn-train`` (``train_chainer.py``): train with the Trainer.

    fasterrcnn-train --config configs/NAME.yaml [--out DIR] [--gpu N]
        [--resume DIR|auto|FILE] [--iterations N] [--snapshot-every N]
        [--set KEY=VALUE ...] [--help-config] [--no-progress]

The output directory receives the resolved configuration (config.yaml), the
log (log), loss and mAP plots (loss.png, map.png), snapshots written
atomically (snapshot_iter_<N>.npz, the newest train.keep_snapshots kept)
and, at the end, model.npz (weights with architecture and class names, for
fasterrcnn-eval). ``--resume auto`` continues from the newest complete
snapshot in the output directory (or starts afresh when there is none);
``--resume DIR`` from the newest in DIR; ``--resume FILE`` from that
snapshot. Snapshots are read as data: nothing in them runs.
"""

import argparse
import os
import sys

import fasterrcnn  # noqa: F401  (chainer through the compat import)
from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.cli.common import (UserError, add_config_flags,
                                   add_device_flags, run_command, select_gpu)
from fasterrcnn.config import load_config, print_config_help, save_config
from fasterrcnn.safe_npz import load_npz
from fasterrcnn.training.builder import build_trainer
from fasterrcnn.training.snapshot import find_snapshot

PROG = 'fasterrcnn-train'


def build_parser(prog=PROG):
    parser = argparse.ArgumentParser(
        prog=prog, description='Train Faster R-CNN VGG16 (Chainer Trainer).',
        epilog='Every config key, with its default: --help-config.')
    add_config_flags(parser)
    add_device_flags(parser)
    parser.add_argument('--out', help='output directory (default: '
                        'result/<config name>)')
    parser.add_argument('--resume', help="'auto', a directory or a snapshot")
    parser.add_argument('--iterations', type=int,
                        help='override train.iterations')
    parser.add_argument('--snapshot-every', type=int,
                        help='override train.snapshot_every')
    parser.add_argument('--help-config', action='store_true',
                        help='list every config key with its default')
    return parser


def resolve_config(args):
    """The configuration: file, then --set, then the dedicated flags."""
    overrides = list(args.set)
    if args.iterations is not None:
        overrides.append('train.iterations={}'.format(args.iterations))
    if args.snapshot_every is not None:
        overrides.append('train.snapshot_every={}'.format(
            args.snapshot_every))
    return load_config(args.config, overrides)


def find_resume(resume, out):
    """The snapshot to resume from, or None to start afresh."""
    if resume is None:
        return None
    if resume == 'auto':
        return find_snapshot(out, auto=True)
    return find_snapshot(resume)


def setup(args):
    """Everything before the first iteration: ``(trainer, config, out)``.

    Every mistake in the input shows here, before any output is written.
    """
    if args.config is None:
        raise UserError('--config is required (see configs/)')
    config = resolve_config(args)
    out = args.out or os.path.join(
        'result', os.path.splitext(os.path.basename(args.config))[0])
    select_gpu(args.gpu)
    snapshot = find_resume(args.resume, out)
    keep_freed_memory()
    try:
        trainer, _, _ = build_trainer(
            config, out, device=args.gpu,
            progress=False if args.no_progress else None)
    except (KeyError, ValueError) as e:
        # The data set's readers name the file and line at fault.
        raise UserError(e.args[0] if e.args else e) from None
    if snapshot is not None:
        # Read as data only: nothing in a snapshot is unpickled or run.
        load_npz(snapshot, trainer, what='trainer snapshot')
        print('resuming from {}'.format(snapshot), flush=True)
    return trainer, config, out


def run(args):
    if args.help_config:
        print_config_help()
        return 0
    trainer, config, out = setup(args)
    os.makedirs(out, exist_ok=True)
    save_config(config, os.path.join(out, 'config.yaml'))
    trainer.run()
    return 0


def main(argv=None, prog=PROG):
    """Command-line entry point; returns the exit status (2: bad input)."""
    return run_command(prog, build_parser(prog), run, argv)


if __name__ == '__main__':
    sys.exit(main())
