"""Weights both ways between the PyTorch version's ``.pth`` and our model file.

    fasterrcnn-interop torch2chainer IN.pth OUT.npz
        [--labels labels.txt] [--normalize torchvision|caffe]
    fasterrcnn-interop chainer2torch IN.npz OUT.pth

(or ``python -m fasterrcnn.interop``, the same command)

``torch2chainer`` reads a checkpoint of the PyTorch version (its trainer
format or a bare state_dict, weights only: nothing in it runs) and writes the
model file that ``eval.py`` reads; the architecture (block widths, fc width,
class count) follows from the weights' shapes. ``chainer2torch`` writes a
state_dict of CPU tensors that the PyTorch version's ``load_state_dict``
takes. Both copy float32 arrays as they are, so round trips are exact.
"""

import argparse
import sys

from fasterrcnn.links.backbones.vgg16 import FasterRCNNVGG16
from fasterrcnn.safe_npz import BadFileError
from fasterrcnn.weights.model_io import load_model, save_model
from fasterrcnn.weights.state_dict import (FEATURE_INDEX, export_state_dict,
                                           load_state_dict)
from fasterrcnn.weights.torch_checkpoint import (load_torch_checkpoint,
                                                 save_torch_state_dict)

# Position in FEATURE_INDEX of the first convolution of each VGG16 block
# (blocks of 2, 2, 3, 3, 3 convolutions): its output width is the block's.
_BLOCK_FIRST_CONV = (0, 2, 4, 7, 10)
_N_ANCHOR_VALUES = 2  # rpn.score holds 2 scores (bg, fg) per anchor


def model_from_state_dict(state, name, normalize='torchvision'):
    """A FasterRCNNVGG16 shaped after a PyTorch-named state_dict, holding it.

    Args:
        state (dict): name to NumPy array, the PyTorch version's names.
        name (str): the file it came from, for messages.
        normalize (str): the input normalisation the weights were trained
            with (``'torchvision'``, the PyTorch version's default, or
            ``'caffe'``).

    Raises:
        BadFileError: a weight is missing or does not fit (names it).
    """
    def shape(key):
        if key not in state:
            raise BadFileError('{}: no {!r}: not a Faster R-CNN VGG16 '
                               'state_dict of the PyTorch version'.format(
                                   name, key))
        return state[key].shape
    channels = [shape('extractor.{}.weight'.format(FEATURE_INDEX[i]))[0]
                for i in _BLOCK_FIRST_CONV]
    n_anchor = shape('rpn.score.weight')[0] // _N_ANCHOR_VALUES
    if n_anchor != 9:
        raise BadFileError('{}: rpn.score has {} anchors; the PyTorch '
                           'version uses 9 (3 ratios x 3 scales)'.format(
                               name, n_anchor))
    model = FasterRCNNVGG16(
        shape('head.score.weight')[0] - 1, extractor_channels=channels,
        fc_size=shape('head.classifier.0.weight')[0],
        rpn_channels=shape('rpn.conv1.weight')[0], normalize=normalize)
    try:
        load_state_dict(model, state)
    except (KeyError, ValueError) as e:
        raise BadFileError('{}: {}'.format(name, e.args[0] if e.args else e))
    return model


def _read_labels(path):
    from fasterrcnn.data.voc import read_label_names
    return list(read_label_names(path))


def torch2chainer(src, dst, labels=None, normalize='torchvision'):
    """``.pth`` -> model file. Returns the model's foreground class count."""
    state, _ = load_torch_checkpoint(src)
    model = model_from_state_dict(state, src, normalize)
    if labels is not None:
        names = _read_labels(labels)
    elif model.n_fg_class == 20:
        from fasterrcnn.data.voc import VOC_BBOX_LABEL_NAMES
        names = list(VOC_BBOX_LABEL_NAMES)  # the PyTorch version's VOC
    else:
        names = None
    if names is not None and len(names) != model.n_fg_class:
        raise BadFileError('{}: {} class names for a model of {} classes'
                           .format(labels, len(names), model.n_fg_class))
    save_model(model, dst, names)
    return model.n_fg_class


def chainer2torch(src, dst):
    """Model file -> ``.pth`` state_dict."""
    model, _ = load_model(src)
    save_torch_state_dict(export_state_dict(model), dst)


PROG = 'fasterrcnn-interop'


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='Convert weights between the PyTorch version and '
        'fasterrcnn (files are read as data: nothing in them runs).')
    sub = parser.add_subparsers(dest='command', required=True)
    t2c = sub.add_parser('torch2chainer', help='.pth -> model .npz')
    t2c.add_argument('src', metavar='IN.pth')
    t2c.add_argument('dst', metavar='OUT.npz')
    t2c.add_argument('--labels', help='labels.txt, one class name a line '
                     '(default: the VOC names for 20 classes)')
    t2c.add_argument('--normalize', choices=('torchvision', 'caffe'),
                     default='torchvision',
                     help="the weights' input normalisation (the PyTorch "
                     "version's caffe_pretrain option means caffe)")
    c2t = sub.add_parser('chainer2torch', help='model .npz -> .pth')
    c2t.add_argument('src', metavar='IN.npz')
    c2t.add_argument('dst', metavar='OUT.pth')
    args = parser.parse_args(argv)
    try:
        if args.command == 'torch2chainer':
            n = torch2chainer(args.src, args.dst, args.labels,
                              args.normalize)
            print('wrote {} ({} classes)'.format(args.dst, n))
        else:
            chainer2torch(args.src, args.dst)
            print('wrote {}'.format(args.dst))
    except (BadFileError, FileNotFoundError, ValueError) as e:
        print('{}: error: {}'.format(PROG, e.args[0] if e.args else e),
              file=sys.stderr)
        return 2
    return 0
