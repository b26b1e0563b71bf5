"""``python -m fasterrcnn.chainercv SCRIPT [ARGS...]``: run a script written
for chainercv, unchanged, with ``import chainercv`` giving
:mod:`fasterrcnn.chainercv`."""

import os
import runpy
import sys

from fasterrcnn.chainercv.alias import install_alias


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        print('usage: python -m fasterrcnn.chainercv SCRIPT [ARGS...]\n'
              'runs SCRIPT as __main__ with `import chainercv` giving '
              'fasterrcnn.chainercv')
        return 0 if argv else 2
    script = argv[0]
    if not os.path.isfile(script):
        print('python -m fasterrcnn.chainercv: {}: no such file'.format(
            script), file=sys.stderr)
        return 2
    install_alias()
    # As `python SCRIPT` would: the script's folder first on the path, and
    # the script's own argv.
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    sys.argv = argv
    runpy.run_path(script, run_name='__main__')
    return 0


if __name__ == '__main__':
    sys.exit(main())
