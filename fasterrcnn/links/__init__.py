"""Chainer links of Faster R-CNN VGG16."""

from fasterrcnn.links.faster_rcnn import FasterRCNN  # NOQA
from fasterrcnn.links.faster_rcnn_vgg16 import FasterRCNNVGG16  # NOQA
from fasterrcnn.links.rpn import RegionProposalNetwork  # NOQA
from fasterrcnn.links.train_chain import FasterRCNNTrainChain  # NOQA
from fasterrcnn.links.vgg16 import VGG16, VGG16RoIHead  # NOQA
