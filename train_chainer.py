"""Train Faster R-CNN VGG16 with chainer.training.Trainer.

    python train_chainer.py --config configs/NAME.yaml [--out DIR] [--gpu N]
        [--resume DIR|auto|FILE] [--iterations N] [--snapshot-every N]
        [--set KEY=VALUE ...] [--help-config]

The output directory receives the resolved configuration (config.yaml), the
log (log), loss and mAP plots (loss.png, map.png), snapshots written
atomically (snapshot_iter_<N>.npz, the newest train.keep_snapshots kept)
and, at the end, model.npz (weights with architecture and class names, for
eval.py). ``--resume auto`` continues from the newest complete snapshot in
the output directory (or starts afresh when there is none); ``--resume
DIR`` from the newest in DIR; ``--resume FILE`` from that snapshot.
"""

import argparse
import os
import sys

import fasterrcnn  # noqa: F401  (chainer through the compat import)

from fasterrcnn.backend import gpu_available, keep_freed_memory
from fasterrcnn.config import (ConfigError, load_config, print_config_help,
                               save_config)
from fasterrcnn.safe_npz import load_npz
from fasterrcnn.training.builder import build_trainer
from fasterrcnn.training.snapshot import SnapshotNotFoundError, find_snapshot


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description='Train Faster R-CNN VGG16 (Chainer Trainer).',
        epilog='Every config key, with its default: --help-config.')
    parser.add_argument('--config', help='YAML configuration file')
    parser.add_argument('--out', help='output directory (default: '
                        'result/<config name>)')
    parser.add_argument('--gpu', type=int, default=-1,
                        help='GPU id (default: -1, the CPU)')
    parser.add_argument('--resume', help="'auto', a directory or a snapshot")
    parser.add_argument('--iterations', type=int,
                        help='override train.iterations')
    parser.add_argument('--snapshot-every', type=int,
                        help='override train.snapshot_every')
    parser.add_argument('--set', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='override a config key (YAML value), e.g. '
                        '--set train.lr=0.01; may be repeated')
    parser.add_argument('--help-config', action='store_true',
                        help='list every config key with its default')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar (the log lines remain)')
    return parser, parser.parse_args(argv)


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


def main(argv=None):
    parser, args = parse_args(argv)
    if args.help_config:
        print_config_help()
        return 0
    if args.config is None:
        parser.error('--config is required (see configs/)')
    try:
        config = resolve_config(args)
        out = args.out or os.path.join(
            'result', os.path.splitext(os.path.basename(args.config))[0])
        if args.gpu >= 0 and not gpu_available():
            raise ConfigError('--gpu {} was given but no CUDA device is '
                              'usable here (is cupy installed?)'.format(
                                  args.gpu))
        snapshot = find_resume(args.resume, out)
        keep_freed_memory()
        trainer, model, label_names = build_trainer(
            config, out, device=args.gpu,
            progress=False if args.no_progress else None)
        if snapshot is not None:
            # Read as data only: nothing in a snapshot is unpickled or run.
            load_npz(snapshot, trainer, what='trainer snapshot')
            print('resuming from {}'.format(snapshot), flush=True)
    except (ConfigError, SnapshotNotFoundError, FileNotFoundError,
            KeyError, ValueError) as error:
        print('train_chainer.py: error: {}'.format(
            error.args[0] if error.args else error), file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    save_config(config, os.path.join(out, 'config.yaml'))
    trainer.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
