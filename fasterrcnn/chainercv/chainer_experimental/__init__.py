"""``chainercv.chainer_experimental``: of chainercv's additions to Chainer,
the sliceable data sets (``datasets.sliceable``)."""

from fasterrcnn.chainercv.chainer_experimental import datasets  # noqa: F401
