"""Faster R-CNN (VGG16) for Chainer and CuPy.

Numerically interchangeable with simple-faster-rcnn-pytorch: the same weights
give the same features, proposals, losses, gradients and detections.
Importing this package imports chainer through :mod:`fasterrcnn._compat`, so
that chainer 7.8.1 works under numpy 2 and any setuptools.

Imported before numpy, it sets ``OPENBLAS_THREAD_TIMEOUT=4`` unless the
environment already has a value: OpenBLAS's idle threads then sleep after a
few cycles instead of spinning through a yield loop between calls, which
took a third of all CPU time of the CPU demo's training (24.9 s of system
time in a 40.9 s run, ``sched_yield``) and left less of the second core
for the work on it. It changes no result: only how the BLAS's threads
wait, not how a product is split (docs/performance.md, "CPU speed,
2026-12-06").
"""

import os
import sys

if 'numpy' not in sys.modules:
    # Read by OpenBLAS once, when numpy loads it: afterwards it is too late.
    os.environ.setdefault('OPENBLAS_THREAD_TIMEOUT', '4')

from fasterrcnn import _compat  # noqa: E402 (after the BLAS setting)

_compat.import_chainer()

__version__ = '0.1.0'
