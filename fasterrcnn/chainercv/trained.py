"""chainercv's trained detectors by name, for the command lines.

``fasterrcnn-predict --model voc07`` and ``fasterrcnn-eval --model voc07``
run chainercv's published Faster R-CNN as chainercv runs it: its weights in
:class:`~fasterrcnn.chainercv.links.FasterRCNNVGG16`, with chainercv's
preprocessing (RGB minus the Caffe mean, Pillow's bilinear resize), its
poolings and its NMS rule, under which the weights were trained. The file
is found in chainercv's download folder or fetched there
(:mod:`fasterrcnn.chainercv.pretrained`).
"""

from fasterrcnn.chainercv.datasets import voc_bbox_label_names
from fasterrcnn.chainercv.links.model.faster_rcnn.faster_rcnn_vgg import \
    FasterRCNNVGG16
from fasterrcnn.chainercv.pretrained import FASTER_RCNN_VGG16_MODELS

#: ``--model`` name -> the link that holds its weights and the class names
#: of its labels (both trained models detect PASCAL VOC's 20 classes).
TRAINED_MODELS = {name: (FasterRCNNVGG16, voc_bbox_label_names)
                  for name in FASTER_RCNN_VGG16_MODELS}


def load_trained(name):
    """chainercv's trained model ``name`` (fetched on first use).

    Args:
        name (str): a key of :data:`TRAINED_MODELS`.

    Returns:
        tuple: the model (on the CPU) and its class names (a list of str,
        label ``i`` is ``names[i]``).

    Raises:
        FileNotFoundError: the file is not cached and cannot be fetched
            (one line: its URL and where to put it).
    """
    cls, label_names = TRAINED_MODELS[name]
    return cls(pretrained_model=name), list(label_names)
