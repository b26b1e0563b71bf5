"""``chainercv.links``: the Faster R-CNN VGG16 link (the rest of
chainercv's model zoo is not provided)."""

from fasterrcnn.chainercv.links import model  # noqa: F401
from fasterrcnn.chainercv.links.model.faster_rcnn import \
    FasterRCNNVGG16  # noqa: F401
