"""Data: the VOC reader, the synthetic shapes data set and the transforms.

``fasterrcnn.data.shapes`` is not imported here, so that
``python -m fasterrcnn.data.shapes`` runs it without a double import.
"""

from fasterrcnn.data.voc import VOC_BBOX_LABEL_NAMES  # noqa: F401
from fasterrcnn.data.voc import VOCBboxDataset  # noqa: F401
