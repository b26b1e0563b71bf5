"""Faster R-CNN with its training targets and losses, for the Trainer."""

import collections

import chainer
import numpy

from fasterrcnn.backend import to_cpu
from fasterrcnn.creators.anchor_target import AnchorTargetCreator
from fasterrcnn.creators.proposal_target import ProposalTargetCreator
from fasterrcnn.creators.sampling import as_random_state
from fasterrcnn.creators.seeding import TARGETS, example_random_state
from fasterrcnn.links.losses import faster_rcnn_losses
from fasterrcnn.links.rpn import per_image

#: One image's share of a training step, for the chain's observers:
#: ``index`` in the batch; ``img`` ``(3, H, W)`` float32 prepared image (its
#: own region of the batch, not copied); ``bbox`` ``(R, 4)`` float32
#: ``(y_min, x_min, y_max, x_max)`` and ``label`` ``(R,)`` int32 ground
#: truth in its pixels; ``gt_rpn_label`` ``(A,)`` int32 anchor labels (1
#: object, 0 background, -1 not sampled) and ``rpn_score`` ``(A, 2)`` the
#: RPN's logits of its anchors; ``gt_roi_label`` ``(S,)`` int32 and
#: ``roi_score`` ``(S, n_class)`` the head's targets and logits of its
#: sampled RoIs. Scores are Variables on the model's device.
ImageTargets = collections.namedtuple('ImageTargets', (
    'index', 'img', 'bbox', 'label', 'gt_rpn_label', 'rpn_score',
    'gt_roi_label', 'roi_score'))


class FasterRCNNTrainChain(chainer.Chain):
    """Runs Faster R-CNN on a training example and returns the total loss.

    The losses are reported through ``chainer.reporter`` as
    ``rpn_loc_loss``, ``rpn_cls_loss``, ``roi_loc_loss``, ``roi_cls_loss``
    and ``loss`` (``main/...`` in a Trainer). The proposal targets are drawn
    before the anchor targets, in the order of the PyTorch version's
    trainer.

    Where the draws come from: a training run (the builder) gives
    ``sample_seed`` and each image's key, and every image draws from a state
    of its own (:mod:`fasterrcnn.creators.seeding`), so that a run draws the
    same whatever its batch is split into and resumes exactly with nothing
    saved. Without them (chainercv's train chain, a test) every image draws
    from ``random_state``.

    Args:
        faster_rcnn (FasterRCNN): the model.
        rpn_sigma, roi_sigma (float): smooth L1 sigmas (3 and 1).
        anchor_target_creator, proposal_target_creator: the creators
            (defaults as the PyTorch version).
        random_state (numpy.random.RandomState or int or None): the state
            of the draws when no image has a state of its own.
        sample_seed (int or None): the seed the images' own states derive
            from, with their keys (see :meth:`forward`).
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
        #: Callables given each image's :class:`ImageTargets` as
        #: :meth:`forward` computes them (the training monitor's counts);
        #: none by default.
        self.observers = []

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
        img_sizes = self._img_sizes(imgs, sizes)
        features, rpn_out, _ = self.faster_rcnn.propose(
            imgs, per_image(scales, n), sizes)
        rpn_locs, rpn_scores, rois, roi_indices, anchor, own_anchor = \
            rpn_out
        states = self._states(keys, n)
        samples, roi_cls_loc, roi_score = self._sample_rois(
            features, rois, roi_indices, bboxes, labels, states)
        per_image_losses = []
        start = 0
        for i, (_, gt_roi_loc, gt_roi_label) in enumerate(samples):
            # Image i's share of the padded batch: its own anchors (the
            # RPN's index of them) and its sampled RoIs.
            index = own_anchor[i]
            rpn_loc, rpn_score, img_anchor = rpn_locs[i], rpn_scores[i], \
                anchor
            if index is not None:
                rpn_loc, rpn_score = rpn_loc[index], rpn_score[index]
                img_anchor = anchor[index]
            gt_rpn_loc, gt_rpn_label = self.anchor_targets(
                bboxes[i], img_anchor, img_sizes[i], states[i])
            stop = start + len(gt_roi_label)
            rois_i = slice(None) if n == 1 else slice(start, stop)
            start = stop
            if self.observers:
                # Built only when watched: the slice of a Variable is a
                # graph node.
                self._observe(ImageTargets(
                    i, imgs[i, :, :img_sizes[i][0], :img_sizes[i][1]],
                    bboxes[i], labels[i], gt_rpn_label, rpn_score,
                    gt_roi_label, roi_score[rois_i]))
            per_image_losses.append(faster_rcnn_losses(
                rpn_loc, rpn_score, gt_rpn_loc, gt_rpn_label,
                roi_cls_loc[rois_i], roi_score[rois_i], gt_roi_loc,
                gt_roi_label, self.rpn_sigma, self.roi_sigma))
        losses = _mean_losses(per_image_losses)
        chainer.reporter.report(losses, self)
        return losses['loss']

    @staticmethod
    def _img_sizes(imgs, sizes):
        """Each image's own ``(H, W)`` in the batch, as int pairs."""
        n = len(imgs)
        if sizes is None:
            return [tuple(imgs.shape[2:])] * n
        sizes = numpy.asarray(to_cpu(sizes), dtype=numpy.int64).reshape(n, 2)
        return [tuple(int(v) for v in size) for size in sizes]

    def _states(self, keys, n):
        """The random state each image's targets draw from: its own (from
        ``sample_seed`` and its key), else the chain's."""
        if keys is not None and self.sample_seed is not None:
            keys = numpy.asarray(to_cpu(keys)).reshape(-1)
            return [example_random_state(self.sample_seed, TARGETS, key)
                    for key in keys]
        return [self.random_state] * n

    def _sample_rois(self, features, rois, roi_indices, bboxes, labels,
                     states):
        """Every image's proposal targets (drawn image by image, before any
        anchor target, as the PyTorch version's trainer), then the head on
        all the sampled RoIs at once.

        Returns:
            tuple: per image ``(roi, gt_roi_loc, gt_roi_label)`` (see
            :meth:`proposal_targets`), and the head's ``roi_cls_loc`` ``(S,
            n_class * 4)`` and ``roi_score`` ``(S, n_class)`` Variables over
            the images' samples in order.
        """
        n = len(states)
        samples = []
        for i in range(n):
            img_rois = rois if n == 1 else rois[roi_indices == i]
            samples.append(self.proposal_targets(img_rois, bboxes[i],
                                                 labels[i], states[i]))
        xp = self.xp
        sample_roi = xp.concatenate([roi for roi, _, _ in samples])
        sample_roi_index = xp.concatenate([
            xp.full((len(roi),), i, numpy.int32)
            for i, (roi, _, _) in enumerate(samples)])
        roi_cls_loc, roi_score = self.faster_rcnn.head(
            features, sample_roi, sample_roi_index)
        return samples, roi_cls_loc, roi_score

    def _observe(self, targets):
        """Hand one image's targets and scores to each observer."""
        for observer in self.observers:
            observer(targets)

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


def _mean_losses(per_image_losses):
    """The losses averaged over the images (one image: its own, exactly)."""
    if len(per_image_losses) == 1:
        return per_image_losses[0]
    n = len(per_image_losses)
    return {key: sum(loss[key] for loss in per_image_losses) / n
            for key in per_image_losses[0]}
