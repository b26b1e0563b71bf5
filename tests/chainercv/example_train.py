"""A training script for chainercv, in the pattern of its Faster R-CNN
example (VOC data, FasterRCNNVGG16, FasterRCNNTrainChain, a Trainer with
DetectionVOCEvaluator), used by test_example_script.py to show that such a
script runs unchanged on fasterrcnn.chainercv. Not a test module itself.
"""

import argparse

import chainer
import numpy as np
from chainer import training
from chainer.datasets import TransformDataset
from chainer.training import extensions
from chainer.training.triggers import ManualScheduleTrigger
from chainercv import transforms
from chainercv.datasets import VOCBboxDataset, voc_bbox_label_names
from chainercv.extensions import DetectionVOCEvaluator
from chainercv.links import FasterRCNNVGG16
from chainercv.links.model.faster_rcnn import FasterRCNNTrainChain


class Transform(object):
    """Resize as the model's prepare does, then a random horizontal flip."""

    def __init__(self, faster_rcnn):
        self.faster_rcnn = faster_rcnn

    def __call__(self, in_data):
        img, bbox, label = in_data
        _, height, width = img.shape
        img = self.faster_rcnn.prepare(img)
        _, out_height, out_width = img.shape
        scale = out_height / height
        bbox = transforms.resize_bbox(bbox, (height, width),
                                      (out_height, out_width))
        img, param = transforms.random_flip(img, x_random=True,
                                            return_param=True)
        bbox = transforms.flip_bbox(bbox, (out_height, out_width),
                                    x_flip=param['x_flip'])
        return img, bbox, label, scale


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--data-dir', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--iteration', type=int, default=4)
    parser.add_argument('--min-size', type=int, default=600)
    parser.add_argument('--max-size', type=int, default=1000)
    args = parser.parse_args()

    np.random.seed(0)
    train_data = VOCBboxDataset(data_dir=args.data_dir, split='trainval',
                                year='2007')
    test_data = VOCBboxDataset(data_dir=args.data_dir, split='test',
                               year='2007', use_difficult=True,
                               return_difficult=True)
    faster_rcnn = FasterRCNNVGG16(n_fg_class=len(voc_bbox_label_names),
                                  min_size=args.min_size,
                                  max_size=args.max_size)
    faster_rcnn.use_preset('evaluate')
    model = FasterRCNNTrainChain(faster_rcnn)
    optimizer = chainer.optimizers.MomentumSGD(lr=1e-3, momentum=0.9)
    optimizer.setup(model)
    optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(rate=0.0005))

    train_data = TransformDataset(train_data, Transform(faster_rcnn))
    train_iter = chainer.iterators.SerialIterator(train_data, batch_size=1)
    test_iter = chainer.iterators.SerialIterator(
        test_data, batch_size=1, repeat=False, shuffle=False)
    updater = training.updaters.StandardUpdater(train_iter, optimizer)
    trainer = training.Trainer(updater, (args.iteration, 'iteration'),
                               out=args.out)
    trainer.extend(
        extensions.snapshot_object(model.faster_rcnn, 'snapshot_model.npz'),
        trigger=(args.iteration, 'iteration'))
    trainer.extend(extensions.ExponentialShift('lr', 0.1),
                   trigger=(args.iteration // 2, 'iteration'))
    trainer.extend(extensions.observe_lr(), trigger=(1, 'iteration'))
    trainer.extend(extensions.LogReport(trigger=(1, 'iteration')))
    trainer.extend(extensions.PrintReport(
        ['iteration', 'lr', 'main/loss', 'main/roi_loc_loss',
         'main/roi_cls_loss', 'main/rpn_loc_loss', 'main/rpn_cls_loss',
         'validation/main/map']), trigger=(1, 'iteration'))
    trainer.extend(
        DetectionVOCEvaluator(test_iter, model.faster_rcnn,
                              use_07_metric=True,
                              label_names=voc_bbox_label_names),
        trigger=ManualScheduleTrigger([args.iteration], 'iteration'))
    trainer.run()


if __name__ == '__main__':
    main()
