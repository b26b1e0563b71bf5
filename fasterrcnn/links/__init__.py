"""Chainer links of Faster R-CNN: the model, its RPN, the backbones and the
train chain."""

from fasterrcnn.links.backbones import BACKBONES  # NOQA
from fasterrcnn.links.backbones.resnet import FasterRCNNResNet50  # NOQA
from fasterrcnn.links.backbones.resnet import FasterRCNNResNet101  # NOQA
from fasterrcnn.links.backbones.resnet import ResNetC4  # NOQA
from fasterrcnn.links.backbones.resnet import ResNetRoIHead  # NOQA
from fasterrcnn.links.backbones.vgg16 import VGG16  # NOQA
from fasterrcnn.links.backbones.vgg16 import FasterRCNNVGG16  # NOQA
from fasterrcnn.links.backbones.vgg16 import VGG16RoIHead  # NOQA
from fasterrcnn.links.faster_rcnn import FasterRCNN  # NOQA
from fasterrcnn.links.rpn import RegionProposalNetwork  # NOQA
from fasterrcnn.links.train_chain import FasterRCNNTrainChain  # NOQA
