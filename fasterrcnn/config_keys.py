"""The configuration keys: the one place where each key is written down.

:data:`KEYS` gives every key's section, name, type, default and meaning.
The section classes (:class:`ModelConfig`...) are made from it here,
:mod:`fasterrcnn.config` loads files into them, and ``--help-config``
prints it (:func:`format_config_help`).

A type is an annotation that pydantic validates, in strict mode
(:data:`STRICT`): no value is converted into another type, so ``'3'`` is
not an int and ``1.5`` is not an int; an int is accepted where a float is
expected (and stored as a float), never the reverse; a bool is never a
number. Lists are stored as tuples, so that a configuration is immutable.
"""

import dataclasses
import io
import sys
import textwrap
import typing
from typing import Annotated, Literal, Optional, Union

import pydantic
from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag

from fasterrcnn import config_yaml
from fasterrcnn.functions.roi_ops import ROI_OPS
from fasterrcnn.links.backbones import BACKBONES

#: How every value is validated.
STRICT = pydantic.ConfigDict(strict=True)

POS_INT = Annotated[int, Field(ge=1)]
NONNEG_INT = Annotated[int, Field(ge=0)]
POS_FLOAT = Annotated[float, Field(gt=0)]
NONNEG_FLOAT = Annotated[float, Field(ge=0)]
FRACTION = Annotated[float, Field(ge=0, le=1)]
STR = Annotated[str, Field(min_length=1)]
# A str in Annotated is ignored by pydantic; type_name() shows it instead.
PATH = Annotated[STR, 'path']


def type_name(tp):
    """What the documentation calls a type: ``int``, ``path or null``..."""
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin is Annotated:
        names = [meta for meta in args[1:] if isinstance(meta, str)]
        return names[-1] if names else type_name(args[0])
    if origin is Union:
        return ' or '.join(type_name(arg) for arg in args)
    if origin is Literal:
        return ' | '.join(repr(arg) for arg in args)
    return 'null' if tp is type(None) else tp.__name__


def _tuple_to_list(value):
    # Config.with_values may be given a list as stored, that is a tuple.
    return list(value) if isinstance(value, tuple) else value


def list_of(item, length=None):
    """A YAML list of ``item`` (exactly ``length`` items if given), stored
    as a tuple.

    Validated as a strict list rather than a tuple: errors then say
    "list", as the YAML does, and a YAML set (``!!set``) is refused.
    """
    name = 'list[{}]'.format(type_name(item))
    if length is not None:
        name += ' of {}'.format(length)
    return Annotated[list[item], BeforeValidator(_tuple_to_list),
                     Field(min_length=length, max_length=length),
                     AfterValidator(tuple), name]


def _int_or_list(value):
    if isinstance(value, (list, tuple)):
        return 'list'
    return 'int' if isinstance(value, int) else None


# The member is picked by the value's shape, so that an error speaks of
# that member (a list's bad item) rather than of every member in turn.
INT_OR_LIST = Annotated[
    Union[Annotated[POS_INT, Tag('int')],
          Annotated[list_of(POS_INT), Tag('list')]],
    Discriminator(_int_or_list, custom_error_type='int_or_list',
                  custom_error_message='Input should be an int or a list '
                                       'of ints'),
    'int or list[int]']


@dataclasses.dataclass(frozen=True)
class Key(object):
    """One configuration key.

    Attributes:
        name (str): dotted ``section.key``.
        type: the value type, an annotation that pydantic validates.
        default: the default (a tuple for lists).
        help (str): what the key means.
    """
    name: str
    type: object
    default: object
    help: str

    @property
    def section(self):
        return self.name.split('.', 1)[0]

    @property
    def field(self):
        return self.name.split('.', 1)[1]

    @property
    def type_name(self):
        return type_name(self.type)

    @property
    def nullable(self):
        """Whether ``null`` is allowed (the type is ``Optional``)."""
        return type(None) in typing.get_args(self.type)


SECTIONS = ('model', 'data', 'train', 'eval')

KEYS = (
    # model
    Key('model.backbone', Literal[tuple(BACKBONES)], 'vgg16',
        'the backbone (fasterrcnn.links.backbones): vgg16, or resnet50 / '
        'resnet101 in the C4 layout; the keys below that name VGG16 blocks '
        'or ResNet stages are that backbone\'s own'),
    Key('model.n_fg_class', Optional[POS_INT], None,
        'number of foreground classes; null: the length of '
        'data.label_names, or the data set\'s own class count'),
    Key('model.extractor_channels', list_of(POS_INT, 5),
        (64, 128, 256, 512, 512),
        'output channels of the five VGG16 conv blocks (VGG16: 64, 128, '
        '256, 512, 512; smaller for tests)'),
    Key('model.fc_size', POS_INT, 4096,
        'width of the two fully connected layers of the RoI head'),
    Key('model.min_size', POS_INT, 600,
        'images are scaled so that their shorter side has this many '
        'pixels, unless the longer side would then exceed model.max_size'),
    Key('model.max_size', POS_INT, 1000,
        'upper bound on the longer image side after scaling'),
    Key('model.normalize', Literal['torchvision', 'caffe'], 'torchvision',
        'input normalisation: \'torchvision\' (RGB in [0, 1], ImageNet '
        'mean/std) or \'caffe\' (BGR in [0, 255] minus the mean)'),
    Key('model.pretrained', Optional[PATH], None,
        'ImageNet weights of the backbone (torchvision names, .pth or '
        '.npz; the caffe VGG16 with model.normalize=caffe) to start the '
        'extractor and head from; torchvision: torchvision\'s weights of '
        'model.backbone, caffe: the caffe VGG16, each fetched on first use; '
        'null: random initialisation'),
    Key('model.init_from', Optional[PATH], None,
        'a model file (train_chainer.py\'s model.npz, or python -m '
        'fasterrcnn.interop torch2chainer of a PyTorch version checkpoint) '
        'whose weights the run starts from; its architecture must be this '
        'config\'s'),
    Key('model.anchor_scales', list_of(POS_FLOAT), (8.0, 16.0, 32.0),
        'anchor sizes in units of the stride (16 px): 8, 16, 32 give 128, '
        '256 and 512 px anchors'),
    Key('model.ratios', list_of(POS_FLOAT), (0.5, 1.0, 2.0),
        'anchor aspect ratios (height / width)'),
    Key('model.rpn_channels', Optional[POS_INT], None,
        'channels of the RPN\'s 3x3 conv; null: 512, or the last block\'s '
        'width when that is smaller'),
    Key('model.freeze_conv12', bool, True,
        'keep the first layers fixed during training: VGG16\'s conv1 and '
        'conv2 blocks, ResNet\'s stem and stage 1'),
    Key('model.roi_op', Literal[tuple(ROI_OPS)], 'pool',
        'how the RoI head reads each RoI\'s features: pool (RoI max '
        'pooling, the PyTorch version\'s) or align (RoIAlign, aligned, '
        'adaptive sampling)'),
    Key('model.resnet_width', POS_INT, 64,
        'ResNet backbones: channels of the stem (64; the stages are 4, 8, '
        '16 and 32 times as wide); smaller for CPU demos'),
    Key('model.resnet_depths', Optional[list_of(POS_INT, 4)], None,
        'ResNet backbones: bottleneck blocks of stages 1-4; null: the '
        'backbone\'s (ResNet-50: 3, 4, 6, 3; ResNet-101: 3, 4, 23, 3)'),
    Key('model.bias_lr_x2', bool, True,
        'biases learn at twice the learning rate and get no weight decay'),
    Key('model.dropout', bool, False,
        'dropout after the fully connected layers of the RoI head'),
    # data
    Key('data.dir', Optional[PATH], None,
        'data set directory in the VOC layout (e.g. VOCdevkit/VOC2007), or '
        'voc2007 / voc2012: PASCAL VOC, fetched on first use; needed for '
        'training and evaluation'),
    Key('data.format', Literal['voc', 'coco'], 'voc',
        'layout of data.dir: \'voc\' (JPEGImages/, Annotations/, '
        'ImageSets/Main/<split>.txt) or \'coco\' (the images, and COCO '
        'instances JSON files named by data.train_annotations and '
        'data.test_annotations)'),
    Key('data.train_annotations', Optional[PATH], None,
        'data.format coco: the instances JSON of the training images'),
    Key('data.test_annotations', Optional[PATH], None,
        'data.format coco: the instances JSON of the test images'),
    Key('data.train_split', STR, 'trainval',
        'image set used for training (ImageSets/Main/<split>.txt)'),
    Key('data.test_split', STR, 'test',
        'image set used for evaluation'),
    Key('data.label_names', Optional[list_of(STR)], None,
        'names of the foreground classes, label i = name i; null: the data '
        'set\'s own (the 20 VOC classes for VOC)'),
    Key('data.use_difficult', bool, False,
        'train on objects marked difficult too'),
    Key('data.flip', bool, True,
        'random horizontal flips of the training images'),
    Key('data.bad_examples', Literal['error', 'skip'], 'error',
        'an unusable example (image missing, empty, truncated or not an '
        'image; annotation missing or malformed; unknown class; bad, '
        'zero-area or out-of-image box): \'error\' stops with one line '
        'naming the file; \'skip\' leaves it out, warns once and lists it '
        'in <out>/bad_examples.txt'),
    # train
    Key('train.iterations', POS_INT, 70000,
        'number of updates (of train.batch_size images each)'),
    Key('train.batch_size', POS_INT, 1,
        'images per update: padded into one array, each image\'s losses '
        'computed as alone and averaged (1: the PyTorch version\'s '
        'training)'),
    Key('train.prefetch', bool, True,
        'read the next batch on a thread while the current one is computed '
        '(the same batches and snapshots either way)'),
    Key('train.lr', POS_FLOAT, 1e-3,
        'initial learning rate'),
    Key('train.momentum', FRACTION, 0.9,
        'momentum of MomentumSGD'),
    Key('train.weight_decay', NONNEG_FLOAT, 5e-4,
        'L2 weight decay'),
    Key('train.lr_shift_at', list_of(POS_INT), (50000,),
        'iterations after which the learning rate is multiplied by '
        'train.lr_shift_factor'),
    Key('train.lr_shift_factor', POS_FLOAT, 0.1,
        'factor applied to the learning rate at each train.lr_shift_at'),
    Key('train.lr_shift_reload_best', bool, False,
        'at each train.lr_shift_at, reload the weights of the best model '
        'so far (<out>/best.npz, the highest validation/main/map) before '
        'shifting, as the PyTorch version\'s recipe does'),
    Key('train.seed', NONNEG_INT, 0,
        'seed of the weight initialisation, data order, augmentation and '
        'target sampling'),
    Key('train.snapshot_every', POS_INT, 10000,
        'iterations between trainer snapshots (one is also written at the '
        'last iteration)'),
    Key('train.keep_snapshots', POS_INT, 3,
        'number of newest snapshots kept on disk'),
    Key('train.log_every', POS_INT, 20,
        'iterations between log lines'),
    Key('train.tensorboard', bool, False,
        'write every reported value, and the pictures of train.vis_every, '
        'to <out>/tensorboard/ for TensorBoard (needs tensorboardX: pip '
        'install ".[tensorboard]")'),
    Key('train.vis_every', NONNEG_INT, 0,
        'iterations between pictures of training (ground truth and '
        'predictions on the current image, RPN and head confusion '
        'matrices) in <out>/vis/ and TensorBoard; 0: none'),
    Key('train.rpn_sigma', POS_FLOAT, 3.0,
        'sigma of the smooth L1 localisation loss of the RPN'),
    Key('train.roi_sigma', POS_FLOAT, 1.0,
        'sigma of the smooth L1 localisation loss of the RoI head'),
    # eval
    Key('eval.every', INT_OR_LIST, (50000, 70000),
        'when to evaluate on data.test_split: an int is an interval in '
        'iterations, a list names the iterations'),
    Key('eval.use_07_metric', bool, True,
        'PASCAL VOC2007 11-point AP (false: area under the curve)'),
    # The names of fasterrcnn.evaluation.metrics.METRICS, in its order: the
    # configuration sits below the evaluation package and cannot import
    # it, so tests/evaluation/test_metrics.py checks that the two agree.
    Key('eval.metric', Optional[Literal['voc07', 'voc', 'coco']], None,
        'the evaluation\'s metric: \'voc07\' (11-point AP@0.5), \'voc\' '
        '(area AP@0.5) or \'coco\' (AP@[.5:.95], AP50, AP75, small / '
        'medium / large, through pycocotools); null: eval.use_07_metric '
        'decides between the first two'),
    Key('eval.n_images', Optional[POS_INT], None,
        'evaluate on the first n test images only; null: all'),
    Key('eval.batch_size', POS_INT, 1,
        'images per predict call (one padded batch; the detections are '
        'those of one image at a time)'),
)

KEYS_BY_NAME = {key.name: key for key in KEYS}


def section_keys(section):
    """The keys of one section, in the order of :data:`KEYS`."""
    return [key for key in KEYS if key.section == section]


def _section_class(section):
    """A frozen pydantic dataclass with the keys of one section as fields
    (defaults included): building one validates every value given.

    A dataclass rather than a pydantic model, so that a section behaves as
    the rest of the project expects of a dataclass (``dataclasses.replace``,
    ``FrozenInstanceError`` on assignment).
    """
    cls = dataclasses.make_dataclass(
        section.capitalize() + 'Config',
        [(key.field, key.type, dataclasses.field(default=key.default))
         for key in section_keys(section)],
        frozen=True, namespace={'__module__': __name__})
    cls = pydantic.dataclasses.dataclass(cls, frozen=True, config=STRICT)
    cls.__doc__ = 'The ``{}.*`` keys; see :data:`KEYS`.'.format(section)
    return cls


ModelConfig = _section_class('model')
DataConfig = _section_class('data')
TrainConfig = _section_class('train')
EvalConfig = _section_class('eval')

SECTION_CLASSES = {
    'model': ModelConfig, 'data': DataConfig,
    'train': TrainConfig, 'eval': EvalConfig,
}


def format_config_help(width=79):
    """A table of every key with its type, default and meaning."""
    out = io.StringIO()
    out.write('Configuration keys (YAML sections; --set SECTION.KEY=VALUE):'
              '\n')
    for section in SECTIONS:
        out.write('\n{}:\n'.format(section))
        for key in section_keys(section):
            out.write('  {}  ({}, default {})\n'.format(
                key.name, key.type_name, config_yaml.flow(key.default)))
            for line in textwrap.wrap(key.help, width - 6):
                out.write('      {}\n'.format(line))
    return out.getvalue()


def print_config_help(file=None):
    """Prints :func:`format_config_help` (to stdout by default)."""
    (file or sys.stdout).write(format_config_help())
