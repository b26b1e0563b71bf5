"""Build the chainer.training.Trainer of a configured training run.

Everything random in a run comes from ``train.seed``: the data order from
the iterator's RandomState (saved in every snapshot), each example's flip
and target sampling from a state of its own derived from the seed and the
example's place in the global order (:mod:`fasterrcnn.creators.seeding`).
With the optimizer's state and the extensions', a run stopped and resumed
from a snapshot ends with the same weights, bit for bit on the CPU, as the
same run left alone, and a run split over several processes draws what one
process would.
"""

import os
import sys

import chainer
import numpy
from chainer import training
from chainer.iterators import SerialIterator
from chainer.training import extensions, triggers

from fasterrcnn.artifacts.fetch import provide
from fasterrcnn.config import ConfigError
from fasterrcnn.data.bad_examples import (BAD_EXAMPLES_FILE, BadExampleLog,
                                          Subset, apply_policy)
from fasterrcnn.data.batch import concat_detection_examples
from fasterrcnn.data.datasets import open_split
from fasterrcnn.data.transforms import TrainTransform
from fasterrcnn.evaluation.evaluator import DetectionEvaluator
from fasterrcnn.links import extractor
from fasterrcnn.links.backbones import backbone
from fasterrcnn.links.train_chain import FasterRCNNTrainChain
from fasterrcnn.training.best_model import KeepBestModel
from fasterrcnn.training.extensions import LearningRateShift
from fasterrcnn.training.guard import GuardedUpdater
from fasterrcnn.training.iterator import ShardedIterator
from fasterrcnn.training.momentum_sgd import MomentumSGD
from fasterrcnn.training.monitor import add_monitoring
from fasterrcnn.training.plots import PlotReport
from fasterrcnn.training.snapshot import AtomicSnapshot
from fasterrcnn.weights.imagenet import load_imagenet
from fasterrcnn.weights.model_io import load_model, save_model

#: The keys PrintReport shows (those reported at that point).
LOSS_KEYS = ('main/rpn_loc_loss', 'main/rpn_cls_loss', 'main/roi_loc_loss',
             'main/roi_cls_loss', 'main/loss')


def _require_data(config):
    """The data directory must be set and exist: say which key to set.

    A missing split file is reported by VOCBboxDataset, with the splits that
    do exist."""
    data_dir = config.data.dir
    if data_dir is None:
        raise ConfigError(
            'data.dir is not set: give the data set directory (VOC layout: '
            'Annotations/, JPEGImages/, ImageSets/Main/) in the config or '
            'with --set data.dir=PATH')
    if not os.path.isdir(data_dir):
        raise ConfigError('data.dir {} does not exist: {}'.format(
            data_dir, _missing_data_advice(config)))


def _missing_data_advice(config):
    """What to do about a missing data folder, for the data set it is."""
    d = config.data
    where = ('point data.dir at it (a relative path in a config file is '
             'relative to that file) or --set data.dir=PATH')
    if d.format == 'coco':
        return ('put the images of your COCO-format data set there, with '
                'the instances JSON files data.train_annotations and '
                'data.test_annotations, or {}'.format(where))
    if os.path.basename(os.path.normpath(d.dir)).upper().startswith('VOC') \
            and d.label_names is None:
        return ('download PASCAL VOC there (VOCdevkit/VOC2007 with the '
                'trainval and test splits), or {}'.format(where))
    return ('a data set in the VOC layout belongs there (Annotations/, '
            'JPEGImages/, ImageSets/Main/{}.txt and {}.txt), or {}'.format(
                d.train_split, d.test_split, where))


def build_model(config, n_fg_class):
    """The model a config describes (its ``model.backbone``), weights
    initialised."""
    m = config.model
    cls = backbone(m.backbone)
    model = cls(n_fg_class, **cls.config_args(m))
    if m.pretrained is not None:
        # model.pretrained: torchvision (a name) is fetched on first use.
        provide('model.pretrained', m.pretrained)
        if not os.path.isfile(m.pretrained):
            raise ConfigError(
                'model.pretrained {!r} does not exist: it should be the '
                'ImageNet weights of the {} backbone in torchvision\'s '
                'names, .pth or .npz (see docs/training.md), torchvision to '
                'fetch them, or null to start from random weights'.format(
                    m.pretrained, m.backbone))
        load_imagenet(model, m.pretrained)
    if m.init_from is not None:
        _init_from(model, m.init_from)
    return model


def _init_from(model, path):
    """Copy the weights of a model file into ``model``.

    Every parameter must have the same shape, and the anchors the same
    ratios and scales (the RPN's outputs are per anchor); sizes, freezing
    and normalisation are the config's to choose.
    """
    source, _ = load_model(path)
    theirs = dict(source.namedparams())
    for name, param in model.namedparams():
        if name not in theirs or theirs[name].shape != param.shape:
            raise ConfigError(
                'model.init_from {}: {} has shape {} there, {} in this '
                'config; set the model keys (n_fg_class, extractor_channels, '
                'fc_size, rpn_channels) to the file\'s'.format(
                    path, name.lstrip('/'), theirs[name].shape if name in
                    theirs else None, param.shape))
    for key in ('ratios', 'anchor_scales'):
        if source.init_args[key] != model.init_args[key]:
            raise ConfigError(
                'model.init_from {}: its model.{} is {}, the config has {}'
                .format(path, key, source.init_args[key],
                        model.init_args[key]))
    model.copyparams(source)


def setup_optimizer(chain, lr, momentum=0.9, weight_decay=5e-4,
                    bias_lr_x2=True, comm=None):
    """The PyTorch version's optimizer for a train chain.

    MomentumSGD (:class:`~fasterrcnn.training.momentum_sgd.MomentumSGD`:
    Chainer's, with the weight decay in the same pass); weight decay on
    the weights; biases at twice the learning rate and without decay
    (``bias_lr_x2``); the extractor's frozen links (conv1_1 .. conv2_2 by
    default) not updated.

    Args:
        chain (FasterRCNNTrainChain): the chain (its ``faster_rcnn``).
        lr (float): the learning rate.
        momentum (float): MomentumSGD's momentum.
        weight_decay (float): the L2 rate (0: none).
        bias_lr_x2 (bool): the PyTorch version's bias rule.
        comm: a ChainerMN communicator: the optimizer averages the
            gradients over its processes (and starts them from rank 0's
            weights); None for one process.

    Returns:
        tuple: ``(optimizer, multipliers)``; ``multipliers`` maps parameter
        names to their factor of the learning rate, for
        :class:`~fasterrcnn.training.extensions.LearningRateShift`, and is
        already applied.
    """
    optimizer = MomentumSGD(lr=lr, momentum=momentum)
    if comm is not None:
        import chainermn
        optimizer = chainermn.create_multi_node_optimizer(optimizer, comm)
    optimizer.setup(chain)
    if comm is not None:
        # ChainerMN's optimizer broadcasts rank 0's weights at its first
        # update and skips that update; broadcast them now instead (and let
        # it record the parameters), so that every update counts.
        optimizer.is_changed(chain)
        comm.bcast_data(chain)
    for link in extractor.frozen_links(chain.faster_rcnn.extractor):
        link.disable_update()
    multipliers = {}
    for name, param in chain.namedparams():
        if bias_lr_x2 and name.endswith('/b'):
            # As the PyTorch version: biases at twice the rate, no decay.
            multipliers[name] = 2.
            param.update_rule.hyperparam.lr = lr * 2.
        elif weight_decay > 0:
            # WeightDecay's g += rate * p, in the rule's own pass.
            param.update_rule.decay = weight_decay
    return optimizer, multipliers


class _SaveModel(training.Extension):
    """Writes ``<out>/model.npz`` (weights, architecture, class names) at
    the end of the run."""

    priority = -200

    def __init__(self, model, label_names, iterations):
        self.model = model
        self.label_names = label_names
        self.trigger = triggers.ManualScheduleTrigger(iterations, 'iteration')

    def __call__(self, trainer):
        save_model(self.model, os.path.join(trainer.out, 'model.npz'),
                   self.label_names)


def write_model(trainer):
    """Writes ``<out>/model.npz`` now, as the run does at its end (for a
    finished run resumed whose model file is missing)."""
    trainer.get_extension('save_model')(trainer)


class _PlainStream(object):
    """A stream without the terminal escape PrintReport writes before each
    line (it clears what a ProgressBar drew): noise in a log file."""

    _ERASE = '\033[J'

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        self.stream.write(text.replace(self._ERASE, ''))

    def flush(self):
        self.stream.flush()


def _eval_trigger(every):
    if isinstance(every, int):
        return every, 'iteration'
    return triggers.ManualScheduleTrigger(list(every), 'iteration')


def build_trainer(config, out, device=-1, progress=None, comm=None):
    """A ready-to-run Trainer for ``config``, writing into ``out``.

    Args:
        config (fasterrcnn.config.Config): the resolved configuration.
        out (str): the output directory (log, snapshots, plots, model).
        device (int): GPU id, or -1 for the CPU.
        progress (bool or None): add the ProgressBar (None: when stdout is a
            terminal; in a log file its escape codes are noise).
        comm: a ChainerMN communicator, or None for one process. With one,
            each process reads its share of every global batch
            (``train.batch_size`` images in all), the gradients are averaged
            over the processes, the evaluation is split among them, and
            only rank 0 writes (log, plots, snapshots, model, the bad
            example list).

    Returns:
        tuple: ``(trainer, model, label_names)``. The trainer's
        ``bad_example_log`` (:class:`~fasterrcnn.data.bad_examples.
        BadExampleLog`) holds the examples left out under
        ``data.bad_examples: skip``.

    Raises:
        BadExampleError: under ``data.bad_examples: error``, the first bad
            example found by the check of every example made here.
    """
    t = config.train
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    writer = rank == 0
    if progress is None:
        progress = sys.stdout.isatty()
    progress = progress and writer
    bad_log = BadExampleLog(os.path.join(out, BAD_EXAMPLES_FILE)
                            if writer else None)
    train_data, label_names = _train_data(config, bad_log, progress)

    # The weight initialisers draw from numpy's global state.
    numpy.random.seed(t.seed)
    model = build_model(config, _n_fg_class(config, label_names))
    model.use_preset('evaluate')
    # Each example's flip and target sampling draw from a state of its own
    # (fasterrcnn.creators.seeding), derived from these seeds and its place
    # in the global order: the same run whatever the batch is split into.
    chain = FasterRCNNTrainChain(model, rpn_sigma=t.rpn_sigma,
                                 roi_sigma=t.roi_sigma,
                                 sample_seed=t.seed + 2)
    # The model's own prepare: one definition of the preprocessing.
    transform = TrainTransform(model.prepare, flip=config.data.flip)
    train_iter = ShardedIterator(train_data, t.batch_size, transform,
                                 seed=t.seed, transform_seed=t.seed + 1,
                                 rank=rank, size=size, prefetch=t.prefetch)
    if device >= 0:
        chainer.backends.cuda.get_device_from_id(device).use()
        chain.to_gpu(device)

    optimizer, multipliers = setup_optimizer(
        chain, t.lr, t.momentum, t.weight_decay, config.model.bias_lr_x2,
        comm=comm)

    updater = GuardedUpdater(train_iter, optimizer, device=device,
                             converter=concat_detection_examples, comm=comm)
    trainer = training.Trainer(updater, (t.iterations, 'iteration'), out=out)
    trainer.bad_example_log = bad_log
    trainer.extend(LearningRateShift(t.lr_shift_at, t.lr_shift_factor,
                                     init=t.lr, multipliers=multipliers))
    if writer:
        trainer.extend(AtomicSnapshot(
            keep=t.keep_snapshots, trigger=(t.snapshot_every, 'iteration')))
        trainer.extend(_SaveModel(model, label_names, t.iterations),
                       name='save_model')
    report_keys = ['iteration'] + list(LOSS_KEYS) + ['lr']
    if config.data.test_split:
        _add_evaluation(trainer, config, model, label_names, bad_log,
                        progress, comm)
        report_keys.append('validation/main/map')
    if comm is not None:
        # The losses every process reports, averaged over them.
        from fasterrcnn.training.distributed import MeanOverProcesses
        trainer.extend(MeanOverProcesses(comm, LOSS_KEYS))
    if writer:
        _add_reporting(trainer, config, report_keys, progress)
        add_monitoring(trainer, config, chain, model, label_names)
    return trainer, model, label_names


def _train_data(config, bad_log, progress):
    """The training split, its examples checked up front (every annotation
    parsed and every image header read now, so that a bad file stops the
    run, or is left out, before hours of training), and its class names."""
    # data.dir: voc2007 (a name) is fetched on first use.
    provide('data.dir', config.data.dir, progress=progress)
    _require_data(config)
    train_data = open_split(config, 'train')
    label_names = list(train_data.label_names)
    train_data = apply_policy(
        train_data, config.data.bad_examples, bad_log,
        prefix=config.data.train_split + '/', progress=progress)
    return train_data, label_names


def _n_fg_class(config, label_names):
    """``model.n_fg_class``, which must be the data set's class count."""
    m = config.model
    n_fg_class = m.n_fg_class if m.n_fg_class is not None else \
        len(label_names)
    if n_fg_class != len(label_names):
        raise ConfigError(
            'model.n_fg_class is {} but the data set has {} classes ({}): '
            'set model.n_fg_class=null to follow the data'.format(
                n_fg_class, len(label_names), ', '.join(label_names)))
    return n_fg_class


def _add_evaluation(trainer, config, model, label_names, bad_log, progress,
                    comm):
    """The evaluator on the test split (each process predicts its share;
    rank 0 reports) and the best model it keeps."""
    t = config.train
    writer = comm is None or comm.rank == 0
    test_data = open_split(config, 'test')
    if config.eval.n_images is not None:
        test_data = Subset(test_data, range(
            min(config.eval.n_images, len(test_data))))
    test_data = apply_policy(
        test_data, config.data.bad_examples, bad_log,
        prefix=config.data.test_split + '/', progress=progress,
        evaluation=True)
    test_iter = SerialIterator(test_data, config.eval.batch_size,
                               repeat=False, shuffle=False)
    trainer.extend(
        DetectionEvaluator(test_iter if writer else None, model,
                           use_07_metric=config.eval.use_07_metric,
                           label_names=label_names, comm=comm,
                           metric=config.eval.metric),
        trigger=_eval_trigger(config.eval.every))
    trainer.extend(KeepBestModel(
        model, label_names, config.eval.every,
        reload_at=t.lr_shift_at if t.lr_shift_reload_best else (),
        comm=comm, writer=writer))


def _add_reporting(trainer, config, report_keys, progress):
    """The writer's log, printed table, progress bar and plots."""
    log_trigger = (config.train.log_every, 'iteration')
    trainer.extend(extensions.observe_lr(), trigger=log_trigger)
    trainer.extend(extensions.LogReport(trigger=log_trigger))
    trainer.extend(extensions.PrintReport(
        report_keys + ['elapsed_time'],
        out=sys.stdout if progress else _PlainStream(sys.stdout)),
        trigger=log_trigger)
    if progress:
        trainer.extend(extensions.ProgressBar(update_interval=10))
    if PlotReport.available():
        # Their points, pending values and triggers are in the snapshot: a
        # resumed run draws what the run left alone draws. The default
        # names (PlotReport, PlotReport_1) find the points of older
        # snapshots.
        trainer.extend(PlotReport(
            list(LOSS_KEYS), 'iteration', trigger=log_trigger,
            filename='loss.png', title='Training losses', y_label='loss'))
        trainer.extend(PlotReport(
            ['validation/main/map'], 'iteration',
            trigger=_eval_trigger(config.eval.every), filename='map.png',
            title='Validation mAP', y_label='mAP'))
