"""``fasterrcnn-fetch``: fetch known weights and data sets into their caches.

    fasterrcnn-fetch NAME [NAME ...] [--to DIR] [--no-progress]
    fasterrcnn-fetch --list

Each file is written to a temporary name, verified (the checksum of the
table, :mod:`fasterrcnn.artifacts.table`), then moved into its cache; a
data set's tar is unpacked there, each member checked first. A file already
there and verified is not fetched again. ``FASTERRCNN_MIRROR=BASE`` fetches
from a mirror, ``FASTERRCNN_OFFLINE=1`` never connects.

Exit status: 0 done; 2 an unknown name, a checksum that does not match or
an unsafe archive (one line); 3 the network (one line, after retries); 130
interrupted (no partial file is left).
"""

import argparse

from fasterrcnn.artifacts.fetch import (ChecksumError, FetchError, cache_dir,
                                        fetch, resolve)
from fasterrcnn.artifacts.table import ARTIFACTS, GROUPS, file_name
from fasterrcnn.artifacts.tar import UnsafeArchiveError
from fasterrcnn.cli.common import RunFault, UserError, run_command

PROG = 'fasterrcnn-fetch'


def build_parser(prog=PROG):
    parser = argparse.ArgumentParser(
        prog=prog, description='Fetch known weights and data sets into '
        'their caches, verified.')
    parser.add_argument('names', nargs='*', metavar='NAME',
                        help='what to fetch (--list shows every name)')
    parser.add_argument('--to', metavar='DIR',
                        help='keep the files here instead of their caches')
    parser.add_argument('--list', action='store_true',
                        help='every name, its URL, checksum and cache')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar')
    return parser


def list_artifacts():
    """The table as lines: name, what it is, URL, check, cache folder."""
    lines = []
    for artifact in ARTIFACTS.values():
        lines.append('{}: {}'.format(artifact.name, artifact.description))
        lines.append('    {}  ({})'.format(artifact.url, artifact.check))
        lines.append('    -> {}'.format(cache_dir(artifact)))
    for name, members in sorted(GROUPS.items()):
        lines.append('{}: {}'.format(name, ' + '.join(members)))
    return lines


def run(args):
    if args.list:
        print('\n'.join(list_artifacts()))
        return 0
    if not args.names:
        raise UserError('name what to fetch (fasterrcnn-fetch --list)')
    try:
        artifacts = [a for name in args.names for a in resolve(name)]
    except ValueError as e:
        raise UserError(e.args[0]) from None
    for artifact in artifacts:
        try:
            path = fetch(artifact, to=args.to,
                         progress=not args.no_progress)
        except (ChecksumError, UnsafeArchiveError) as e:
            raise UserError(e.args[0]) from None
        except FetchError as e:
            raise RunFault(e.args[0]) from None
        print('{}: {} ({})'.format(artifact.name, path, file_name(artifact)),
              flush=True)
    return 0


def main(argv=None, prog=PROG):
    return run_command(prog, build_parser(prog), run, argv)


if __name__ == '__main__':
    raise SystemExit(main())
