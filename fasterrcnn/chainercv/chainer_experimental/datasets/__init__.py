"""``chainercv.chainer_experimental.datasets``: the sliceable data sets."""

from fasterrcnn.chainercv.chainer_experimental.datasets import \
    sliceable  # noqa: F401
