"""Side-by-side comparison with the PyTorch version.

    python -m fasterrcnn.compare golden [--gpu N] FILE.npz [FILE.npz ...]

For each golden file (outputs recorded by simple-faster-rcnn-pytorch) it
rebuilds the same weights, runs every recorded stage and prints one row per
stage: the stage, the measured difference, the scale of the reference it is
compared with, the tolerance and whether it holds. The exit status is 0 only
when every stage of every file is within tolerance.
"""

import argparse
import os
import sys
import time

import fasterrcnn  # noqa: F401  (chainer through the compat import)
from fasterrcnn.backend import gpu_available
from fasterrcnn.interop.golden import compare_golden
from fasterrcnn.safe_npz import BadFileError


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


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m fasterrcnn.compare',
        description='Compare with the PyTorch version\'s recorded outputs.')
    sub = parser.add_subparsers(dest='command', required=True)
    golden = sub.add_parser('golden', help='golden .npz files')
    golden.add_argument('files', nargs='+', metavar='FILE.npz')
    golden.add_argument('--gpu', type=int, default=-1,
                        help='GPU id (default: -1, the CPU); the same stages '
                        'and tolerances')
    args = parser.parse_args(argv)
    if args.gpu >= 0 and not gpu_available():
        parser.error('--gpu {} was given but no CUDA device is usable here '
                     '(is cupy installed?)'.format(args.gpu))

    rows = []
    for path in args.files:
        if not os.path.isfile(path):
            parser.error('no such golden file: {}'.format(path))
        start = time.time()
        try:
            rows.extend(compare_golden(
                path, log=lambda m: print('[{}] {}'.format(
                    os.path.basename(path), m), file=sys.stderr, flush=True),
                device=args.gpu))
        except BadFileError as e:
            print('compare: error: {}'.format(e), file=sys.stderr)
            return 2
        except KeyError as e:
            print('compare: error: {}: no entry {}: not a golden file'.format(
                path, str(e.args[0]).split()[0] if e.args else e),
                file=sys.stderr)
            return 2
        print('[{}] done in {:.0f} s'.format(
            os.path.basename(path), time.time() - start),
            file=sys.stderr, flush=True)
    print(format_table(rows))
    failed = [row for row in rows if not row.ok]
    print('{} of {} stages within tolerance'.format(len(rows) - len(failed),
                                                    len(rows)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
