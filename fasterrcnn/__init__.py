"""Faster R-CNN (VGG16) for Chainer and CuPy.

Numerically interchangeable with simple-faster-rcnn-pytorch: the same weights
give the same features, proposals, losses, gradients and detections.
Importing this package imports chainer through :mod:`fasterrcnn._compat`, so
that chainer 7.8.1 works under numpy 2 and any setuptools.
"""

from fasterrcnn import _compat

_compat.import_chainer()

__version__ = '0.1.0'
