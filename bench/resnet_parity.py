"""How far our ResNet C4 features are from torchvision's, and each from a
float64 run of torchvision (the truth), on one input.

    SETUPTOOLS_USE_DISTUTILS=stdlib .venv-torch/bin/python \
        bench/resnet_parity.py

torchvision's ``resnet50`` / ``resnet101`` with random weights and batch
norm statistics (as tests/links/test_backbone_resnet.py makes them) are
saved as a ``.pth`` and loaded into our model; printed per backbone: the
largest difference, relative to the largest value, of the C4 map
(``conv1`` .. ``layer3`` on a 96 x 128 input) and of the head's features
(``layer4`` and average pooling on 3 RoIs of 14 x 14).
"""

import os
import sys
import tempfile

import numpy

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
import chainer
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from fasterrcnn.links.backbones import BACKBONES, resnet  # noqa: E402
from fasterrcnn.weights.imagenet import load_imagenet  # noqa: E402
from tests.links.test_backbone_resnet import torchvision_resnet  # noqa: E402


def c4_and_head(net, x, pooled):
    c4 = net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(
        net.conv1(x)))))))
    return c4.numpy(), net.avgpool(net.layer4(pooled)).flatten(1).numpy()


def main():
    for arch in ('resnet50', 'resnet101'):
        net = torchvision_resnet(torch, torchvision, arch)
        with tempfile.TemporaryDirectory() as root:
            path = os.path.join(root, arch + '.pth')
            torch.save(net.state_dict(), path)
            model = BACKBONES[arch](20)
            load_imagenet(model, path)
        rng = numpy.random.RandomState(0)
        x = rng.normal(size=(1, 3, 96, 128)).astype(numpy.float32)
        pooled = rng.normal(size=(3, 1024, 14, 14)).astype(numpy.float32)
        with torch.no_grad():
            theirs = c4_and_head(net, torch.from_numpy(x),
                                 torch.from_numpy(pooled))
            truth = c4_and_head(net.double(), torch.from_numpy(x).double(),
                                torch.from_numpy(pooled).double())
        with chainer.using_config('train', False), \
                chainer.using_config('enable_backprop', False):
            h = resnet.run_stage(model.head.layer4, pooled, None)[0]
            ours = (model.extractor(x).array,
                    chainer.functions.mean(h, axis=(2, 3)).array)
        for name, a, b, t in zip(('C4', 'head'), ours, theirs, truth):
            scale = numpy.abs(t).max()
            print('{} {}: ours vs float64 {:.1e}, torchvision float32 vs '
                  'float64 {:.1e}, ours vs torchvision {:.1e}'.format(
                      arch, name, numpy.abs(a - t).max() / scale,
                      numpy.abs(b - t).max() / scale,
                      numpy.abs(a - b).max() / scale))


if __name__ == '__main__':
    main()
