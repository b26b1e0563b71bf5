"""``chainercv.links.model.faster_rcnn``: the links, the creators and the
box utilities of chainercv's Faster R-CNN, with its signatures, defaults and
semantics, built on :mod:`fasterrcnn`.

The box utilities are this package's own (:mod:`fasterrcnn.boxes`): their
arithmetic is chainercv's, except that :func:`loc2bbox` caps the log-scale
offsets at ``exp(50)`` so that no ``inf`` comes out of finite input.
"""

from fasterrcnn.boxes import bbox2loc  # noqa: F401
from fasterrcnn.boxes import generate_anchor_base  # noqa: F401
from fasterrcnn.boxes import loc2bbox  # noqa: F401

from .creators import AnchorTargetCreator  # noqa: F401
from .creators import ProposalCreator  # noqa: F401
from .creators import ProposalTargetCreator  # noqa: F401
from .faster_rcnn import FasterRCNN  # noqa: F401
from .faster_rcnn_train_chain import FasterRCNNTrainChain  # noqa: F401
from .faster_rcnn_vgg import FasterRCNNVGG16  # noqa: F401
from .faster_rcnn_vgg import VGG16RoIHead  # noqa: F401
from .region_proposal_network import RegionProposalNetwork  # noqa: F401
