"""Faster R-CNN with its training targets and losses, for the Trainer."""

import chainer
import numpy

from fasterrcnn.backend import get_array_module, to_cpu
from fasterrcnn.creators.anchor_target import AnchorTargetCreator
from fasterrcnn.creators.proposal_target import ProposalTargetCreator
from fasterrcnn.creators.sampling import as_random_state
from fasterrcnn.creators.seeding import TARGETS, example_random_state
from fasterrcnn.links.losses import faster_rcnn_losses
from fasterrcnn.links.rpn import per_image


class FasterRCNNTrainChain(chainer.Chain):
    """Runs Faster R-CNN on a training example and returns the total loss.

    The losses are reported through ``chainer.reporter`` as
    ``rpn_loc_loss``, ``rpn_cls_loss``, ``roi_loc_loss``, ``roi_cls_loss``
    and ``loss`` (``main/...`` in a Trainer). The proposal targets are drawn
    before the anchor targets, both from ``random_state``, in the order of
    the PyTorch version's trainer.

    Args:
        faster_rcnn (FasterRCNN): the model.
        rpn_sigma, roi_sigma (float): smooth L1 sigmas (3 and 1).
        anchor_target_creator, proposal_target_creator: the creators
            (defaults as the PyTorch version).
        random_state (numpy.random.RandomState or int or None): the state
            the target sampling draws from; keep it in the snapshot for an
            exact resume.
        sample_seed (int or None): with it, an image given with its key
            (see :meth:`forward`) draws its targets from a state of its own,
            derived from this seed and the key, in place of
            ``random_state`` (a run then draws the same whatever its batch
            is split into).
    """

    def __init__(self, faster_rcnn, rpn_sigma=3., roi_sigma=1.,
                 anchor_target_creator=None, proposal_target_creator=None,
                 random_state=None, sample_seed=None):
        super(FasterRCNNTrainChain, self).__init__()
        with self.init_scope():
            self.faster_rcnn = faster_rcnn
        self.rpn_sigma = rpn_sigma
        self.roi_sigma = roi_sigma
        self.anchor_target_creator = anchor_target_creator or \
            AnchorTargetCreator()
        self.proposal_target_creator = proposal_target_creator or \
            ProposalTargetCreator()
        self.random_state = as_random_state(random_state)
        self.sample_seed = sample_seed
        #: A :class:`TargetRecord` that :meth:`forward` fills (the training
        #: monitor's); None (the default) records nothing.
        self.record = None

    def forward(self, imgs, bboxes, labels, scales, sizes=None, keys=None):
        """Mean total loss of a batch of images.

        Every loss is computed image by image, as for one image alone, and
        averaged over the images: a batch of one gives exactly the loss of
        the unbatched chain, and the gradient of a batch is the mean of its
        images' gradients (to float rounding). The target creators draw
        first the proposal targets of every image, then the anchor targets
        of every image.

        Args:
            imgs (array): ``(N, 3, H, W)`` float32 prepared images; in a
                padded batch each image fills the top-left ``sizes[i]``.
            bboxes (array or sequence of arrays): per image, ``(R_i, 4)``
                float32 ground truth, ``(y_min, x_min, y_max, x_max)`` in the
                prepared image's pixels (``R_i`` may be 0); an ``(N, R, 4)``
                array when every image has ``R`` boxes.
            labels (array or sequence of arrays): per image, ``(R_i,)``
                int32 labels in ``[0, n_fg_class)``.
            scales (array or float): each image's resize factor (one for
                all, or ``(N,)``).
            sizes (array or None): ``(N, 2)`` int ``(H_i, W_i)`` of each
                image in ``imgs``; None: every image fills ``imgs``.
            keys (array or None): ``(N,)`` int, each image's number in the
                run's global order: with ``sample_seed`` set, image ``i``'s
                targets are drawn from its own state
                (:mod:`fasterrcnn.creators.seeding`) instead of the chain's
                ``random_state``.

        Returns:
            chainer.Variable: the mean total loss.
        """
        imgs, bboxes, labels, scales, sizes = (
            x.array if isinstance(x, chainer.Variable) else x
            for x in (imgs, bboxes, labels, scales, sizes))
        n = len(imgs)
        if len(bboxes) != n or len(labels) != n:
            raise ValueError('{} images but {} box and {} label arrays'
                             .format(n, len(bboxes), len(labels)))
        if sizes is None:
            own_sizes = [imgs.shape[2:]] * n
        else:
            sizes = numpy.asarray(to_cpu(sizes), dtype=numpy.int64) \
                .reshape(n, 2)
            own_sizes = [tuple(int(v) for v in size) for size in sizes]
        model = self.faster_rcnn
        features, rpn_out, feat_sizes = model.propose(
            imgs, per_image(scales, n), sizes)
        rpn_locs, rpn_scores, rois, roi_indices, anchor = rpn_out

        if keys is not None and self.sample_seed is not None:
            keys = numpy.asarray(to_cpu(keys)).reshape(-1)
            states = [example_random_state(self.sample_seed, TARGETS, key)
                      for key in keys]
        else:
            states = [self.random_state] * n
        samples = []
        for i in range(n):
            own_rois = rois if n == 1 else rois[roi_indices == i]
            samples.append(self.proposal_targets(own_rois, bboxes[i],
                                                 labels[i], states[i]))
        sample_roi = self.xp.concatenate([roi for roi, _, _ in samples])
        sample_roi_index = self.xp.concatenate([
            self.xp.full((len(roi),), i, numpy.int32)
            for i, (roi, _, _) in enumerate(samples)])
        roi_cls_loc, roi_score = model.head(features, sample_roi,
                                            sample_roi_index)

        per_image_losses = []
        start = 0
        hh, ww = features.shape[2:]
        for i, (roi, gt_roi_loc, gt_roi_label) in enumerate(samples):
            index = None if feat_sizes is None else \
                model.rpn.own_anchors(hh, ww, feat_sizes[i], self.xp)
            rpn_loc, rpn_score, own_anchor = rpn_locs[i], rpn_scores[i], \
                anchor
            if index is not None:
                rpn_loc, rpn_score = rpn_loc[index], rpn_score[index]
                own_anchor = anchor[index]
            gt_rpn_loc, gt_rpn_label = self.anchor_targets(
                bboxes[i], own_anchor, own_sizes[i], states[i])
            stop = start + len(roi)
            own = slice(None) if n == 1 else slice(start, stop)
            if self.record is not None:
                self.record.add(gt_rpn_label, rpn_score, gt_roi_label,
                                roi_score[own])
                if i == 0:
                    height, width = own_sizes[0]
                    self.record.example = (imgs[0, :, :height, :width],
                                           bboxes[0], labels[0])
            per_image_losses.append(faster_rcnn_losses(
                rpn_loc, rpn_score, gt_rpn_loc, gt_rpn_label,
                roi_cls_loc[own], roi_score[own], gt_roi_loc, gt_roi_label,
                self.rpn_sigma, self.roi_sigma))
            start = stop
        if n == 1:
            losses = per_image_losses[0]
        else:
            losses = {key: sum(loss[key] for loss in per_image_losses) / n
                      for key in per_image_losses[0]}
        chainer.reporter.report(losses, self)
        return losses['loss']

    def proposal_targets(self, rois, bbox, label, random_state=None):
        """The head's sampled RoIs and targets: calls
        ``proposal_target_creator`` with ``random_state`` (the chain's when
        None) and the model's loc normalisation (see
        :class:`fasterrcnn.creators.ProposalTargetCreator`)."""
        model = self.faster_rcnn
        return self.proposal_target_creator(
            rois, bbox, label, random_state or self.random_state,
            model.loc_normalize_mean, model.loc_normalize_std)

    def anchor_targets(self, bbox, anchor, img_size, random_state=None):
        """The RPN's targets: calls ``anchor_target_creator`` with
        ``random_state`` (the chain's when None; see
        :class:`fasterrcnn.creators.AnchorTargetCreator`)."""
        return self.anchor_target_creator(bbox, anchor, img_size,
                                          random_state or self.random_state)


class TargetRecord(object):
    """What a train chain saw, for the training monitor: confusion counts
    on the sampled targets, and the first image of the latest batch.

    Set it as the chain's ``record``; each image of each batch then adds
    its counts (only the anchors and RoIs sampled for the losses, those
    whose target label is not -1), until :meth:`reset`. Rows are the target
    label, columns the arg-max of the scores. The arg-max and the selection
    run where the scores are; only the picked labels come to the host.

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

    def add(self, gt_rpn_label, rpn_score, gt_roi_label, roi_score):
        """Count one image's sampled anchors and RoIs.

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
