"""Side-by-side comparison with the PyTorch version.

    fasterrcnn-compare golden [--gpu N] [--dtype D] [--json OUT]
        FILE.npz [FILE.npz ...]
    fasterrcnn-compare dump-torch --torch-repo PATH
        (--checkpoint X.pth | --recipe-seed S) [--image IMG | --height H
        --width W] [--scale F] [--train-steps N] [--dtype D] --out FILE.npz
    fasterrcnn-compare live --torch-repo PATH [--checkpoint X.pth]
        [--recipe-seed S] [--image IMG] [--train-steps N] [--dtype D]
        [--keep FILE.npz]

(or ``python -m fasterrcnn.interop.compare``, the same command).
``golden``: for
each golden file (outputs recorded by simple-faster-rcnn-
pytorch) it rebuilds the same weights (a recipe seed, or the checkpoint the
file names), runs every recorded stage and prints one row per stage: the
stage, the measured difference, the scale of the reference it is compared
with, the tolerance and whether it holds. ``dump-torch`` runs the PyTorch
version from an unmodified checkout and writes such a file;
``live`` does both in one command. ``--dtype float64`` runs both sides in
float64 (the PyTorch version's model, inputs and tensors; our model,
creators and kernels), where every stage agrees to about 1e-14 and the
tolerances are 1e-8 (docs/parity.md). The exit status is 0 only when every
stage of every file is within tolerance (2 for a mistake in the input).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import fasterrcnn  # noqa: F401  (chainer through the compat import)
from fasterrcnn.atomic import atomic_write
from fasterrcnn.cli.common import UserError, run_command, select_gpu
from fasterrcnn.interop.golden import compare_golden

PROG = 'fasterrcnn-compare'
DTYPES = ('float32', 'float64')


def format_table(rows):
    """The rows as a Markdown table."""
    lines = ['| file | stage | difference | reference scale | tolerance '
             '| ok |',
             '|---|---|---|---|---|---|']
    for row in rows:
        lines.append('| {} | {} | {:.3g} | {:.4g} | {} | {} |'.format(
            row.file, row.stage, row.diff, row.scale, row.tolerance,
            'yes' if row.ok else 'NO'))
    return '\n'.join(lines)


def _say(name):
    return lambda message: print('[{}] {}'.format(name, message),
                                 file=sys.stderr, flush=True)


def compare_files(paths, gpu=-1, dtype=None, json_out=None):
    """Compares every file, prints the table; returns the exit status.

    ``dtype`` is our side's (None: each file's own); ``json_out`` a file
    that receives the rows as JSON (bench/golden_spread.py reads it).
    """
    rows = []
    for path in paths:
        if not os.path.isfile(path):
            raise UserError('no such golden file: {}'.format(path))
        start = time.time()
        try:
            rows.extend(compare_golden(path, log=_say(os.path.basename(path)),
                                       device=gpu, dtype=dtype))
        except KeyError as e:
            raise UserError('{}: no entry {}: not a golden file'.format(
                path, str(e.args[0]).split()[0] if e.args else e)) from None
        _say(os.path.basename(path))('done in {:.0f} s'.format(
            time.time() - start))
    print(format_table(rows))
    if json_out:
        with atomic_write(json_out, binary=False) as f:
            json.dump([row._asdict() for row in rows], f, indent=0)
    failed = [row for row in rows if not row.ok]
    print('{} of {} stages within tolerance'.format(len(rows) - len(failed),
                                                    len(rows)))
    return 1 if failed else 0


def _dump(args, out):
    try:
        from fasterrcnn.interop.dump_torch import dump_torch
        dump_torch(args.torch_repo, out, seed=args.recipe_seed,
                   checkpoint=args.checkpoint, image=args.image,
                   size=(args.height, args.width), scale=args.scale,
                   train_steps=args.train_steps, dtype=args.dtype,
                   log=_say('torch'))
    except ImportError as e:
        raise UserError('running the PyTorch version needs torch, '
                        'torchvision and scikit-image ({}): make venv-torch'
                        .format(e)) from None


def run(args):
    select_gpu(getattr(args, 'gpu', -1))
    if args.command == 'golden':
        return compare_files(args.files, args.gpu, args.dtype, args.json)
    if args.command == 'dump-torch':
        _dump(args, args.out)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or os.path.join(tmp, 'live.npz')
        _dump(args, out)
        return compare_files([out], args.gpu)


def _add_torch_flags(parser, live):
    parser.add_argument('--torch-repo', required=True, metavar='PATH',
                        help='an unmodified checkout of '
                             'simple-faster-rcnn-pytorch (commit 367db36)')
    weights = parser.add_mutually_exclusive_group(required=not live)
    weights.add_argument('--checkpoint', metavar='X.pth',
                         help="a checkpoint of the PyTorch version (read "
                              "weights only)")
    weights.add_argument('--recipe-seed', type=int, default=0, metavar='S',
                         help='weights from the golden recipe with this seed '
                              '(also seeds the input and the target draws; '
                              'default 0)')
    parser.add_argument('--image', metavar='IMG',
                        help='a real image (prepared by the PyTorch version; '
                             'the comparison starts from the raw image)')
    parser.add_argument('--height', type=int, default=288,
                        help='random input height (default 288)')
    parser.add_argument('--width', type=int, default=416,
                        help='random input width (default 416)')
    parser.add_argument('--scale', type=float, default=1.,
                        help='resize factor reported with a random input')
    parser.add_argument('--train-steps', type=int, default=0, metavar='N',
                        help='also N SGD steps on both sides')
    parser.add_argument('--dtype', choices=DTYPES, default='float32',
                        help='the dtype the PyTorch version runs in '
                             '(default float32; float64 records a file whose '
                             'tolerances are 1e-8)')


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description='Compare with the PyTorch version.')
    sub = parser.add_subparsers(dest='command', required=True)
    golden = sub.add_parser('golden', help='golden .npz files')
    golden.add_argument('files', nargs='+', metavar='FILE.npz')
    dump = sub.add_parser('dump-torch', help='run the PyTorch version and '
                          'record a golden file')
    _add_torch_flags(dump, live=False)
    dump.add_argument('--out', required=True, metavar='FILE.npz')
    live = sub.add_parser('live', help='dump-torch and golden in one')
    _add_torch_flags(live, live=True)
    live.add_argument('--keep', metavar='FILE.npz',
                      help='keep the recorded golden file here')
    golden.add_argument('--dtype', choices=DTYPES,
                        help="our side's dtype (default: the file's own); "
                             'float64 against a float32 file measures the '
                             "PyTorch version's float32 error")
    golden.add_argument('--json', metavar='OUT.json',
                        help='also write the rows as JSON')
    for command in (golden, live):
        command.add_argument('--gpu', type=int, default=-1,
                             help='GPU id for our side (default: -1, the '
                                  'CPU); the same stages and tolerances')
    return parser


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    return run_command(PROG, build_parser(), run, argv)


if __name__ == '__main__':
    sys.exit(main())
