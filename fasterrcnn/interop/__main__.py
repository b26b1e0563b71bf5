"""``python -m fasterrcnn.interop``: see :mod:`fasterrcnn.interop.convert`."""

import sys

import fasterrcnn  # noqa: F401  (chainer through the compat import)
from fasterrcnn.interop.convert import main

sys.exit(main())
