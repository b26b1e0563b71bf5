"""chainercv's Faster R-CNN API, installable again.

``import fasterrcnn.chainercv as chainercv`` gives the modules a Faster
R-CNN user of chainercv imports, with chainercv's paths, names, signatures,
defaults and semantics: ``links`` (``FasterRCNNVGG16`` and
``links.model.faster_rcnn``), ``utils`` (and ``utils.testing``),
``evaluations``, ``extensions``, ``datasets``, ``transforms`` and
``visualizations``. For scripts that say ``import chainercv`` unchanged,
:func:`install_alias` (or ``python -m fasterrcnn.chainercv SCRIPT ARGS``)
makes that name import these modules.

Where chainercv and the PyTorch version differ (NMS at IoU >= or >, the
proposals ranked by logit or by probability, the evaluator's reporting),
this package takes chainercv's side through one switch of the
:mod:`fasterrcnn` code it is built on; :mod:`fasterrcnn` itself keeps the
PyTorch version's.
"""

from fasterrcnn.chainercv import datasets  # noqa: F401
from fasterrcnn.chainercv import evaluations  # noqa: F401
from fasterrcnn.chainercv import extensions  # noqa: F401
from fasterrcnn.chainercv import links  # noqa: F401
from fasterrcnn.chainercv import transforms  # noqa: F401
from fasterrcnn.chainercv import utils  # noqa: F401
from fasterrcnn.chainercv import visualizations  # noqa: F401
from fasterrcnn.chainercv import backends
from fasterrcnn.chainercv.alias import install_alias  # noqa: F401

backends.set_defaults()
