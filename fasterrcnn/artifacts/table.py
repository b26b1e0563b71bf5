"""The files the project knows how to fetch: one table, each with its
official URL, the cache it belongs in and how it is verified.

Verification, strongest first:

* ``sha256:<prefix>``: torch hub's convention, the first hex digits of the
  file's SHA-256 in its name (``vgg16-397923af.pth``);
* ``md5:<digest>``: the MD5 published with the file (PASCAL VOC's tars);
* ``npz``: chainercv publishes no checksum for its models: the file must be
  a complete NumPy archive (every member's CRC checked) holding at least
  one array. Its SHA-256 is then recorded beside it, so that a later use
  re-verifies it against what was fetched.

Caches, so that a machine that already has a file from the ecosystem finds
it: ``torch`` (``$TORCH_HOME/hub/checkpoints``, torchvision's),
``chainercv`` (``$CHAINER_DATASET_ROOT/pfnet/chainercv/models``, chainercv's
models; its data sets are under ``.../pfnet/chainercv/voc``), ``own``
(``$FASTERRCNN_HOME``, else ``~/.cache/fasterrcnn``).
"""

import collections

#: One known file. ``name``: what a user types; ``url``: where it is
#: published; ``check``: how it is verified (see the module's docstring);
#: ``cache``: ``'torch'``, ``'chainercv'`` or ``'own'``; ``subdir``: its
#: folder in that cache; ``extract``: a tar to unpack (the folder its
#: members go to, relative to the cache folder), or None;
#: ``description``: one line.
Artifact = collections.namedtuple('Artifact', (
    'name', 'url', 'check', 'cache', 'subdir', 'extract', 'description'))

_CHAINERCV = 'https://chainercv-models.preferred.jp/'
_VOC = 'http://host.robots.ox.ac.uk/pascal/VOC/'

#: Every known artifact by name.
ARTIFACTS = collections.OrderedDict((a.name, a) for a in (
    Artifact('vgg16-torchvision',
             'https://download.pytorch.org/models/vgg16-397923af.pth',
             'sha256:397923af', 'torch', 'hub/checkpoints', None,
             "torchvision's ImageNet VGG16 (model.normalize: torchvision)"),
    # The caffe VGG16 the PyTorch version recommends (its
    # misc/convert_caffe_pretrain.py); its fc6 / fc7 are classifier.1 / .4,
    # which the ImageNet loader renames to torchvision's .0 / .3.
    Artifact('vgg16-caffe',
             'https://s3-us-west-2.amazonaws.com/jcjohns-models/'
             'vgg16-00b39a1b.pth',
             'sha256:00b39a1b', 'torch', 'hub/checkpoints', None,
             'the caffe ImageNet VGG16, BGR input in [0, 255] minus the '
             'mean (model.normalize: caffe)'),
    Artifact('resnet50-torchvision',
             'https://download.pytorch.org/models/resnet50-0676ba61.pth',
             'sha256:0676ba61', 'torch', 'hub/checkpoints', None,
             "torchvision's ImageNet ResNet-50 (IMAGENET1K_V1; "
             'model.backbone: resnet50)'),
    Artifact('resnet101-torchvision',
             'https://download.pytorch.org/models/resnet101-63fe2227.pth',
             'sha256:63fe2227', 'torch', 'hub/checkpoints', None,
             "torchvision's ImageNet ResNet-101 (IMAGENET1K_V1; "
             'model.backbone: resnet101)'),
    Artifact('vgg16-chainercv',
             _CHAINERCV + 'vgg16_imagenet_converted_2017_07_18.npz',
             'npz', 'chainercv', 'models', None,
             "chainercv's ImageNet VGG16 (its pretrained_model='imagenet')"),
    Artifact('voc07',
             _CHAINERCV + 'faster_rcnn_vgg16_voc07_trained_2018_06_01.npz',
             'npz', 'chainercv', 'models', None,
             "chainercv's Faster R-CNN VGG16 trained on VOC2007 trainval"),
    Artifact('voc0712',
             _CHAINERCV + 'faster_rcnn_vgg16_voc0712_trained_2017_07_21.npz',
             'npz', 'chainercv', 'models', None,
             "chainercv's Faster R-CNN VGG16 trained on VOC2007+2012 "
             'trainval'),
    Artifact('voc2007-trainval', _VOC + 'voc2007/VOCtrainval_06-Nov-2007.tar',
             'md5:c52e279531787c972589f7e41ab4ae64', 'own', 'data', '.',
             'PASCAL VOC2007 trainval (VOCdevkit/VOC2007)'),
    Artifact('voc2007-test', _VOC + 'voc2007/VOCtest_06-Nov-2007.tar',
             'md5:b6e924de25625d8de591ea690078ad9f', 'own', 'data', '.',
             'PASCAL VOC2007 test (VOCdevkit/VOC2007)'),
    Artifact('voc2012-trainval', _VOC + 'voc2012/VOCtrainval_11-May-2012.tar',
             'md5:6cd6e144f989b92b3379bac3b3de84fd', 'own', 'data', '.',
             'PASCAL VOC2012 trainval (VOCdevkit/VOC2012)'),
))

#: Names that stand for several artifacts, fetched in order.
GROUPS = {
    'voc2007': ('voc2007-trainval', 'voc2007-test'),
    'voc2012': ('voc2012-trainval',),
}


#: Names a config may give instead of a path: key -> name -> the backbone
#: it is for (None: any backbone) -> (the artifact or group, the path of
#: what the config means inside where it is fetched to; None: the file
#: itself). ``model.pretrained: torchvision`` is the ImageNet weights of
#: the config's ``model.backbone``.
CONFIG_NAMES = {
    'model.pretrained': {
        'torchvision': {'vgg16': ('vgg16-torchvision', None),
                        'resnet50': ('resnet50-torchvision', None),
                        'resnet101': ('resnet101-torchvision', None)},
        'caffe': {'vgg16': ('vgg16-caffe', None)},
    },
    'data.dir': {
        'voc2007': {None: ('voc2007', 'VOCdevkit/VOC2007')},
        'voc2012': {None: ('voc2012', 'VOCdevkit/VOC2012')},
    },
}


def file_name(artifact):
    """The file's name: the last part of its official URL."""
    return artifact.url.rsplit('/', 1)[-1]
