"""Live monitoring of a training run: TensorBoard event files and pictures.

:func:`add_monitoring` registers a :class:`TrainingMonitor` on the Trainer
when the config asks for it (``train.tensorboard``, ``train.vis_every``):

* with ``train.tensorboard``, every value in the Trainer's observation goes
  to ``<out>/tensorboard/`` under its Chainer name (``main/loss``, ``lr``,
  ``validation/main/map``, ``validation/main/ap/<name>``...): the mean
  since the previous log line at every ``train.log_every`` iterations (what
  the log shows), and the evaluator's values at the iteration they appear;
* every ``train.vis_every`` iterations, three pictures: the first image of
  the current batch with its ground truth (dashed) and the model's
  predictions (solid), and the confusion matrices of the RPN and of the
  head on the anchors and RoIs sampled for the losses since the previous
  picture. They are written as PNGs under ``<out>/vis/`` and, with
  ``train.tensorboard``, as the images ``train/gt_vs_pred``,
  ``train/rpn_confusion`` and ``train/roi_confusion``, beside the scalars
  ``main/rpn_accuracy`` and ``main/roi_accuracy``.

tensorboardX is an optional extra (``pip install ".[tensorboard]"``).
Without it a run with ``train.tensorboard`` says so once on stderr and goes
on (the PNGs are still written). In a ChainerMN run the builder calls this
on rank 0 alone, the only process that writes; the counts are then those of
rank 0's share of each batch.
"""

import os
import sys

import chainer
import numpy
from chainer import reporter as reporter_module
from chainer.training import extension
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fasterrcnn.atomic import atomic_write
from fasterrcnn.backend import get_array_module, to_cpu
from fasterrcnn.data.transforms import denormalize
from fasterrcnn.training.extensions import every_iteration
from fasterrcnn.visualize import draw_detections

#: Where the event files go, under the run's output directory.
TENSORBOARD_DIR = 'tensorboard'
#: Where the PNGs go, under the run's output directory.
VIS_DIR = 'vis'
#: How to get tensorboardX, as the warning says it.
INSTALL_HINT = ('pip install ".[tensorboard]" (or pip install -r '
                'requirements/tensorboard.txt)')
#: The RPN's two classes, in the order of its scores.
RPN_NAMES = ('background', 'object')


def accuracy(counts):
    """The share of a confusion matrix on its diagonal (NaN when empty).

    Args:
        counts (numpy.ndarray): ``(K, K)`` int counts.
    """
    total = counts.sum()
    return float(numpy.trace(counts)) / total if total else float('nan')


def confusion_figure(counts, names, title):
    """A confusion matrix drawn with its counts.

    Each cell shows its count; its colour is the count's share of its row
    (the share of that target label predicted so), so that the rare classes
    stay readable beside the background's thousands.

    Args:
        counts (numpy.ndarray): ``(K, K)`` int counts, rows the target
            label, columns the predicted one.
        names (sequence of str): the ``K`` class names.
        title (str): the figure's title.

    Returns:
        matplotlib.figure.Figure: the drawing (with an Agg canvas).
    """
    counts = numpy.asarray(counts)
    k = len(counts)
    rows = counts.sum(axis=1, keepdims=True)
    share = counts / numpy.maximum(rows, 1)
    side = max(3.5, 0.4 * k + 2.0)
    # Constrained layout keeps the axis labels, ticks and colour bar inside.
    fig = Figure(figsize=(side + 1.5, side), dpi=100, layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(share, cmap='Blues', vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, shrink=0.8, label='share of the row')
    fontsize = 9 if k <= 8 else 6
    for r in range(k):
        for c in range(k):
            ax.text(c, r, str(int(counts[r, c])), ha='center', va='center',
                    fontsize=fontsize,
                    color='white' if share[r, c] > 0.5 else 'black')
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=45 if k > 2 else 0, ha='right'
                       if k > 2 else 'center', fontsize=fontsize)
    ax.set_yticklabels(names, fontsize=fontsize)
    ax.set_xlabel('predicted (arg-max of the scores)')
    ax.set_ylabel('target label')
    ax.set_title(title, fontsize=9)
    return fig


def figure_pixels(fig):
    """``(H, W, 3)`` uint8 RGB pixels of a figure with an Agg canvas."""
    fig.canvas.draw()
    return numpy.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()


def tensorboard_writer_class(stream=None):
    """tensorboardX's ``SummaryWriter``, or None (after one line on
    ``stream``, stderr when None, saying how to get it) when it cannot be
    imported."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        print('warning: train.tensorboard is set but tensorboardX is not '
              'installed: no TensorBoard output; {}'.format(INSTALL_HINT),
              file=stream or sys.stderr, flush=True)
        return None
    return SummaryWriter


class TrainingMonitor(extension.Extension):
    """Writes a run's values to TensorBoard and draws pictures of it.

    Called every iteration, after the extensions that report (the
    evaluator, ``observe_lr``): it adds the observation to its running
    means, writes them at every ``log_every``-th iteration, writes the
    evaluator's values when they appear, and draws the pictures at every
    ``vis_every``-th iteration (see the module's documentation).

    Args:
        out (str): the run's output directory.
        writer_class: tensorboardX's ``SummaryWriter`` (called with the
            log directory when the first value is written), or None: no
            TensorBoard output.
        log_every (int): iterations between scalar writes.
        vis_every (int): iterations between pictures; 0: none.
        record (TargetRecord or None): the record among the train chain's
            observers, needed when ``vis_every`` > 0.
        model (FasterRCNN): the model, for its predictions on the picture.
        label_names (sequence of str): the foreground class names.
        normalize (str or None): the training's input normalisation, to
            undo for the picture.
    """

    priority = extension.PRIORITY_READER

    def __init__(self, out, writer_class, log_every, vis_every=0,
                 record=None, model=None, label_names=(),
                 normalize='torchvision'):
        self.trigger = every_iteration
        if vis_every and (record is None or model is None):
            raise ValueError('pictures need the chain\'s record and the model')
        self.out = out
        self.writer_class = writer_class
        self.log_every = log_every
        self.vis_every = vis_every
        self.record = record
        self.model = model
        self.label_names = list(label_names)
        self.normalize = normalize
        self.summary = reporter_module.DictSummary()
        self.since = 1  # the first iteration of the current counts
        self._writer = None

    def initialize(self, trainer):
        # A resumed run counts from where it resumed.
        self.since = trainer.updater.iteration + 1

    @property
    def writer(self):
        """The SummaryWriter, opened on first use; None without one."""
        if self._writer is None and self.writer_class is not None:
            self._writer = self.writer_class(
                os.path.join(self.out, TENSORBOARD_DIR))
        return self._writer

    def __call__(self, trainer):
        iteration = trainer.updater.iteration
        if self.writer_class is not None:
            self._scalars(trainer.observation, iteration)
        if self.vis_every and iteration % self.vis_every == 0:
            self.pictures(iteration)

    def _scalars(self, observation, iteration):
        validation = {key: value for key, value in observation.items()
                      if key.startswith('validation/')}
        self.summary.add({key: value for key, value in observation.items()
                          if key not in validation})
        written = False
        for key, value in sorted(validation.items()):
            written |= self._add_scalar(key, value, iteration)
        if iteration % self.log_every == 0:
            for key, value in sorted(self.summary.compute_mean().items()):
                written |= self._add_scalar(key, value, iteration)
            self.summary = reporter_module.DictSummary()
        if written:
            # Flushed at once: the dashboard is read while the run goes on.
            self.writer.flush()

    def _add_scalar(self, key, value, iteration):
        value = getattr(value, 'array', value)
        if getattr(value, 'ndim', 0) != 0:
            return False  # not a scalar (Chainer's reports skip these too)
        self.writer.add_scalar(key, float(to_cpu(value)), iteration)
        return True

    def pictures(self, iteration):
        """Draw the pictures of ``iteration`` and restart the counts."""
        if self.record.example is not None:
            self._emit('gt_vs_pred', self._detections(), iteration)
        span = 'iterations {}-{}'.format(self.since, iteration)
        for name, counts, names, what in (
                ('rpn', self.record.rpn, RPN_NAMES, 'RPN, sampled anchors'),
                ('roi', self.record.roi,
                 ['background'] + self.label_names, 'head, sampled RoIs')):
            acc = accuracy(counts)
            self._emit(name + '_confusion', confusion_figure(
                counts, names, '{}, {}: accuracy {:.3f}'.format(
                    what, span, acc)), iteration)
            if self.writer_class is not None and counts.sum():
                self.writer.add_scalar('main/{}_accuracy'.format(name), acc,
                                       iteration)
        if self.writer_class is not None:
            self.writer.flush()
        self.record.reset()
        self.since = iteration + 1

    def _detections(self):
        img, bbox, label = (to_cpu(x) for x in self.record.example)
        rgb = denormalize(img, self.normalize)
        model = self.model
        # predict's thresholds are the training's (the evaluator's preset):
        # lend them to 'visualize' for this one picture.
        with model.preset('visualize'):
            bboxes, labels, scores = model.predict([rgb])
        return draw_detections(rgb, bboxes[0], labels[0], scores[0],
                               label_names=self.label_names, gt_bbox=bbox,
                               gt_label=label)

    def _emit(self, name, fig, iteration):
        directory = os.path.join(self.out, VIS_DIR)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, 'iter_{:06d}_{}.png'.format(
            iteration, name))
        with atomic_write(path) as f:
            fig.savefig(f, format='png', dpi=fig.dpi)
        if self.writer_class is not None:
            self.writer.add_image('train/' + name, figure_pixels(fig),
                                  iteration, dataformats='HWC')

    def finalize(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def add_monitoring(trainer, config, chain, model, label_names, stream=None):
    """Register a :class:`TrainingMonitor` as the config asks.

    Nothing is registered when ``train.tensorboard`` is False and
    ``train.vis_every`` is 0. With pictures the chain gets a
    :class:`TargetRecord` among its ``observers``.
    Call it in the process that writes (rank 0 of a ChainerMN run) only.

    Args:
        trainer (chainer.training.Trainer): the run (its ``out``).
        config (fasterrcnn.config.Config): the resolved configuration.
        chain (FasterRCNNTrainChain): the train chain.
        model (FasterRCNN): its model.
        label_names (sequence of str): the foreground class names.
        stream: where the missing-tensorboardX warning goes (stderr when
            None).

    Returns:
        TrainingMonitor or None: the registered extension.
    """
    t = config.train
    if not t.tensorboard and not t.vis_every:
        return None
    writer_class = tensorboard_writer_class(stream) if t.tensorboard \
        else None
    if writer_class is None and not t.vis_every:
        return None
    record = None
    if t.vis_every:
        record = TargetRecord(model.n_class)
        chain.observers.append(record)
    monitor = TrainingMonitor(
        trainer.out, writer_class, t.log_every, vis_every=t.vis_every,
        record=record, model=model, label_names=label_names,
        normalize=config.model.normalize)
    trainer.extend(monitor, name='training_monitor')
    return monitor


class TargetRecord(object):
    """What a train chain saw, for the monitor's pictures: confusion counts
    on the sampled targets, and the first image of the latest batch.

    An observer of the chain (append it to its ``observers``): each image of
    each batch adds its counts (only the anchors and RoIs sampled for the
    losses, those whose target label is not -1), until :meth:`reset`. Rows
    are the target label, columns the arg-max of the scores. The arg-max
    and the selection run where the scores are; only the picked labels come
    to the host.

    Args:
        n_class (int): the head's classes, background (0) included.

    Attributes:
        rpn (numpy.ndarray): ``(2, 2)`` int64 counts of the RPN, label 0
            background, 1 object.
        roi (numpy.ndarray): ``(n_class, n_class)`` int64 counts of the
            head.
        example (tuple or None): ``(img, bbox, label)`` of the first image
            of the latest batch, as the chain got it (not copied): ``(3, H,
            W)`` float32 prepared (normalised) image, ``(R, 4)`` float32
            ``(y_min, x_min, y_max, x_max)`` boxes in its pixels, ``(R,)``
            int32 labels in ``[0, n_class - 1)``.
    """

    def __init__(self, n_class):
        self.n_class = n_class
        self.example = None
        self.reset()

    def reset(self):
        """Zero the counts (the example is kept)."""
        self.rpn = numpy.zeros((2, 2), numpy.int64)
        self.roi = numpy.zeros((self.n_class, self.n_class), numpy.int64)

    def __call__(self, targets):
        """Count one image's sampled anchors and RoIs.

        Args:
            targets (fasterrcnn.links.train_chain.ImageTargets): the image's
                share of the step.
        """
        self.add(targets.gt_rpn_label, targets.rpn_score,
                 targets.gt_roi_label, targets.roi_score)
        if targets.index == 0:
            self.example = (targets.img, targets.bbox, targets.label)

    def add(self, gt_rpn_label, rpn_score, gt_roi_label, roi_score):
        """Count sampled anchors and RoIs.

        Args:
            gt_rpn_label (array): ``(A,)`` int32 anchor labels: 1 object, 0
                background, -1 not sampled.
            rpn_score (array or Variable): ``(A, 2)`` float32 RPN logits.
            gt_roi_label (array): ``(S,)`` int32 RoI labels in ``[0,
                n_class)``, 0 background.
            roi_score (array or Variable): ``(S, n_class)`` float32 head
                logits.
        """
        self.rpn += _confusion(gt_rpn_label, rpn_score, 2)
        self.roi += _confusion(gt_roi_label, roi_score, self.n_class)


def _confusion(gt_label, score, n):
    """``(n, n)`` int64 counts of (target label, arg-max of ``score``) over
    the rows whose label is not -1."""
    if isinstance(score, chainer.Variable):
        score = score.array
    xp = get_array_module(score)
    gt_label = xp.asarray(gt_label).reshape(-1)
    keep = gt_label >= 0
    pred = xp.argmax(score[keep], axis=1)
    pair = to_cpu(gt_label[keep].astype(numpy.int64) * n + pred)
    return numpy.bincount(pair, minlength=n * n).reshape(n, n)
