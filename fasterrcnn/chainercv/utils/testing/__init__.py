"""chainercv's test helpers for detection code (``chainercv.utils.testing``).

:func:`generate_random_bbox`, :func:`assert_is_bbox`,
:func:`assert_is_detection_link`, :func:`parameterize` and the ``attr``
markers with the names, signatures and checks of ``chainercv.utils.testing``,
and chainer.testing's :func:`product`, :func:`product_dict` and
:func:`run_module`, which that module passes on too.

Importing this module imports the :mod:`fasterrcnn` package first, which
imports ``chainer.testing`` through :mod:`fasterrcnn._compat` (it needs
``pkg_resources``, which today's setuptools no longer has).
"""

from chainer.testing import product, product_dict, run_module

from fasterrcnn.chainercv.utils.testing import attr
from fasterrcnn.chainercv.utils.testing.assertions import (
    assert_is_bbox, assert_is_detection_link)
from fasterrcnn.chainercv.utils.testing.generate_random_bbox import \
    generate_random_bbox
from fasterrcnn.chainercv.utils.testing.parameterized import parameterize

__all__ = ['assert_is_bbox', 'assert_is_detection_link', 'attr',
           'generate_random_bbox', 'parameterize', 'product', 'product_dict',
           'run_module']
