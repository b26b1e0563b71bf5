"""``chainercv.links.model``: only ``faster_rcnn`` is provided."""

from fasterrcnn.chainercv.links.model import faster_rcnn  # noqa: F401
