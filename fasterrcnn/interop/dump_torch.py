"""Record the PyTorch version's stages into a golden file, from its checkout.

:func:`dump_torch` runs an unmodified checkout of simple-faster-rcnn-pytorch
(see :mod:`fasterrcnn.interop.torch_version`) on weights from a recipe seed
or a checkpoint, on a random input or a real image, and writes every stage
that :func:`fasterrcnn.interop.golden.compare_golden` compares, under the
names of ``tests/data/golden/README.md``. With ``train_steps`` it also runs
that many of its ``train_step`` (SGD) and records each step's losses and
the weights after the last.

The target creators of the PyTorch version draw from numpy's global random
state; it is seeded with ``seed`` right before the training forward (and
before the training steps), as our creators' ``RandomState(seed)`` is.

With ``dtype='float64'`` the PyTorch version runs in float64 (see
:func:`_in_dtype`): its model, the inputs, and every tensor it makes. What
its code writes as float32 stays float32, and our side does the same: the
anchors, and the loc normalisation constants of its ProposalTargetCreator
(``numpy.float32`` arrays there, as in chainercv).
"""

import contextlib
import importlib

import numpy

from fasterrcnn.atomic import atomic_write
from fasterrcnn.interop.golden import recipe_state_dict
from fasterrcnn.interop.golden_steps import sample_index
from fasterrcnn.interop.torch_version import load_torch_version
from fasterrcnn.weights.torch_checkpoint import load_torch_checkpoint

#: Weights drawn with a std other than He's, as in the recipe.
STD_OVERRIDES = {'rpn.score.weight': 0.01, 'rpn.loc.weight': 0.01,
                 'head.score.weight': 0.01, 'head.cls_loc.weight': 0.001}
#: Gradients recorded in full (the rest by their norm only).
FULL_GRADS = ('extractor.10.weight', 'rpn.score.weight', 'rpn.loc.weight',
              'head.score.weight', 'head.cls_loc.weight')
_N_ALL = 10 ** 9  # a sample size that keeps every target
#: Parameters up to this size are recorded in full after training steps.
_FULL_PARAM_SIZE = 1 << 20


def _random_input(seed, size):
    """A raw image and ground truth of ``size``: ``(3, H, W)`` noise in
    [0, 255] and three boxes ``(y_min, x_min, y_max, x_max)`` inside it."""
    rng = numpy.random.RandomState(seed + 1)
    h, w = size
    img = rng.uniform(0, 255, (3, h, w)).astype(numpy.float32)
    y0 = rng.uniform(0, h * 0.6, 3)
    x0 = rng.uniform(0, w * 0.6, 3)
    bh = rng.uniform(0.2, 0.4, 3) * h
    bw = rng.uniform(0.2, 0.4, 3) * w
    bbox = numpy.stack([y0, x0, y0 + bh, x0 + bw], 1).astype(numpy.float32)
    return img, bbox, rng.randint(0, 20, 3).astype(numpy.int32)


@contextlib.contextmanager
def _in_dtype(torch, dtype):
    """The PyTorch version in ``dtype`` for the duration.

    For float64: every tensor it creates without a dtype (its layers'
    parameters, ``t.Tensor(...)`` and ``t.zeros(...)`` in its predict and
    losses) is float64 through ``torch.set_default_dtype``, and
    ``Tensor.float()``, which its head and predict call on the RoIs and the
    image, gives the default dtype instead of float32. Nothing is edited in
    the checkout; both are restored on exit.
    """
    if numpy.dtype(dtype) == numpy.float32:
        yield
        return
    old_default, old_float = torch.get_default_dtype(), torch.Tensor.float
    torch.set_default_dtype(torch.float64)
    torch.Tensor.float = lambda self, *args, **kwargs: self.to(
        torch.get_default_dtype())
    try:
        yield
    finally:
        torch.Tensor.float = old_float
        torch.set_default_dtype(old_default)


class _Recorder(object):
    """Wraps callables of the PyTorch model to keep what they return."""

    def __init__(self):
        self.seen = {}
        self._undo = []

    def wrap(self, owner, attr, name):
        original = getattr(owner, attr)

        def recorded(*args, **kwargs):
            out = original(*args, **kwargs)
            self.seen[name] = out
            return out
        setattr(owner, attr, recorded)
        self._undo.append((owner, attr, original))

    def undo(self):
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)
        self._undo = []


def dump_torch(repo, out, seed=0, checkpoint=None, image=None,
               size=(288, 416), scale=1., train_steps=0, log=None,
               write_checkpoint=None, dtype='float32'):
    """Run the PyTorch version and write its stages to ``out`` (npz).

    Args:
        repo (str): an unmodified checkout of simple-faster-rcnn-pytorch.
        out (str): the golden file to write.
        seed (int): the recipe seed (weights, unless ``checkpoint``), the
            random input's seed and the target creators' seed.
        checkpoint (str or None): a ``.pth`` of the PyTorch version (read
            weights only) instead of the recipe.
        image (str or None): a real image; its ``preprocess`` output is the
            network input. None: random noise of ``size`` as the input.
        size (tuple): ``(H, W)`` of the random input.
        scale (float): the resize factor reported with a random input.
        train_steps (int): SGD steps to run and record after the stages.
        log (callable or None): progress messages.
        write_checkpoint (str or None): also save the starting weights
            with the PyTorch version's own ``trainer.save`` (its checkpoint
            format, ``best_map`` a NumPy scalar as in real ones).
        dtype (str): ``'float32'`` (as the PyTorch version ships) or
            ``'float64'`` (see :func:`_in_dtype`); recorded as ``dtype``.
    """
    tv = load_torch_version(repo)
    with _in_dtype(tv.torch, dtype):
        _dump(tv, out, seed, checkpoint, image, size, scale, train_steps,
              log or (lambda message: None), write_checkpoint,
              numpy.dtype(dtype))


def _dump(tv, out, seed, checkpoint, image, size, scale, train_steps, say,
          write_checkpoint, dtype):
    torch = tv.torch
    torch.manual_seed(seed)
    if checkpoint is not None:
        state, _ = load_torch_checkpoint(checkpoint)
        n_fg_class = state['head.score.weight'].shape[0] - 1
    model = tv.FasterRCNNVGG16(n_fg_class=20 if checkpoint is None
                               else n_fg_class)
    names = list(model.state_dict())
    shapes = [tuple(v.shape) for v in model.state_dict().values()]
    if checkpoint is None:
        state = recipe_state_dict(names, shapes, seed, STD_OVERRIDES)
    model.load_state_dict({k: torch.from_numpy(numpy.ascontiguousarray(
        state[k])) for k in names})
    if write_checkpoint is not None:
        tv.FasterRCNNTrainer(model).save(save_path=write_checkpoint,
                                         best_map=numpy.float64(0.))
        say('wrote {}'.format(write_checkpoint))
    record = {'seed': numpy.array(seed), 'dtype': numpy.array(dtype.name),
              'weights_source': numpy.array('checkpoint' if checkpoint
                                            else 'recipe'),
              'checkpoint': numpy.array(checkpoint or ''),
              'param_names': numpy.array(names),
              'param_shapes': numpy.array([str(s) for s in shapes]),
              'std_override_names': numpy.array(list(STD_OVERRIDES)),
              'std_override_values': numpy.array(
                  list(STD_OVERRIDES.values()))}

    if image is not None:
        from fasterrcnn.data.image import read_image
        img_raw = read_image(image)
        img_in = numpy.asarray(tv.preprocess(img_raw), numpy.float32)
        scale = img_in.shape[1] / float(img_raw.shape[1])
        _, bbox, label = _random_input(seed, img_in.shape[1:])
        record['image'] = numpy.array(str(image))
    else:
        img_raw, bbox, label = _random_input(seed, size)
        from fasterrcnn.data.transforms import get_normalizer
        img_in = get_normalizer('torchvision')(img_raw)
    pred_size = numpy.array([int(round(img_in.shape[1] / scale)),
                             int(round(img_in.shape[2] / scale))])
    # The same float32 numbers on both sides, held in the run's dtype.
    img_in, bbox = img_in.astype(dtype), bbox.astype(dtype)
    record.update(img_raw=img_raw, img_in=img_in, bbox=bbox, label=label,
                  scale=numpy.array(scale), pred_size=pred_size)
    _record_stages(tv, model, record, say)
    if train_steps:
        _record_training(tv, model, record, train_steps, say)
    with atomic_write(out) as f:
        numpy.savez_compressed(f, **record)
    say('wrote {}'.format(out))


def _batch(torch, record):
    """The recorded input as the PyTorch version's batch of one."""
    return tuple(torch.from_numpy(record[name][None].copy())
                 for name in ('img_in', 'bbox', 'label'))


def _record_stages(tv, model, record, say):
    torch = tv.torch
    seed = int(record['seed'])
    img, bbox, label = _batch(torch, record)
    scale = float(record['scale'])
    trainer = tv.FasterRCNNTrainer(model)
    rec = _Recorder()
    rec.wrap(model.rpn, 'forward', 'rpn')
    rec.wrap(model.head, 'forward', 'head')
    rec.wrap(model.extractor, 'forward', 'features')
    rec.wrap(trainer, 'proposal_target_creator', 'pt')
    rec.wrap(trainer, 'anchor_target_creator', 'at')

    say('PyTorch version: training-mode forward and backward')
    model.train()
    numpy.random.seed(seed)
    trainer.optimizer.zero_grad()
    losses = trainer.forward(img, bbox, label, scale)
    losses.total_loss.backward()
    seen = rec.seen
    rpn_locs, rpn_scores, rois, _, anchor = seen['rpn']
    sample_roi, gt_roi_loc, gt_roi_label = seen['pt']
    gt_rpn_loc, gt_rpn_label = seen['at']
    roi_cls_loc, roi_score = seen['head']
    record.update(
        features=seen['features'].detach().numpy(), anchor=anchor,
        rpn_locs=rpn_locs.detach().numpy(),
        rpn_scores=rpn_scores.detach().numpy(), train_rois=rois,
        sample_roi=sample_roi, gt_roi_loc=gt_roi_loc,
        gt_roi_label=gt_roi_label, gt_rpn_loc=gt_rpn_loc,
        gt_rpn_label=gt_rpn_label,
        head_roi_cls_loc=roi_cls_loc.detach().numpy(),
        head_roi_score=roi_score.detach().numpy(),
        loss_names=numpy.array(list(losses._fields)),
        losses=numpy.array([float(v.detach()) for v in losses]))
    for name, param in model.named_parameters():
        if param.requires_grad and param.grad is not None:
            grad = param.grad.detach().numpy()
            record['grad_norm/' + name] = numpy.array(
                numpy.linalg.norm(grad.astype(numpy.float64)))
            if name.endswith('.bias') or name in FULL_GRADS:
                record['grad/' + name] = grad
    trainer.optimizer.zero_grad()
    rec.undo()

    say('PyTorch version: target creators without subsampling')
    creators = __import__('model.utils.creator_tool',
                          fromlist=['AnchorTargetCreator'])
    full_loc, full_label = creators.AnchorTargetCreator(n_sample=_N_ALL)(
        record['bbox'], anchor, record['img_in'].shape[1:])
    roi, loc, lab = creators.ProposalTargetCreator(
        n_sample=_N_ALL, pos_ratio=1.0)(rois, record['bbox'],
                                        record['label'])
    order = numpy.lexsort((roi[:, 3], roi[:, 2], roi[:, 1], roi[:, 0], lab))
    record.update(full_gt_rpn_label=full_label, full_gt_rpn_loc=full_loc,
                  full_sample_roi=roi[order], full_gt_roi_loc=loc[order],
                  full_gt_roi_label=lab[order])

    say('PyTorch version: test-mode forward and predict')
    model.eval()
    size = tuple(int(v) for v in record['pred_size'])
    rec.wrap(model.rpn, 'forward', 'rpn')
    with torch.no_grad():
        model(img, scale=img.shape[3] / size[1])
    record['test_rois'] = rec.seen['rpn'][2]
    rec.undo()
    for prefix, score_thresh in (('pred', None), ('pred0', 0.)):
        model.use_preset('evaluate')
        if score_thresh is not None:
            model.score_thresh = score_thresh
        bbox, label, score = _predict_kept(model, record['img_in'], size)
        record.update({prefix + '_bbox': bbox, prefix + '_label': label,
                       prefix + '_score': score})
    model.use_preset('evaluate')


def _predict_kept(model, img, size):
    """``model.predict`` of one image, its detections in the run's dtype.

    Its ``_suppress`` casts boxes and scores to float32 at the end; the
    boxes and scores that NMS keeps, class by class, are what it computed
    (identical to its output in a float32 run). ``nms`` is wrapped where
    ``model/faster_rcnn.py`` looks it up, for this call only.
    """
    module = importlib.import_module('model.faster_rcnn')
    original, kept = module.nms, []

    def nms(bbox, score, thresh):
        keep = original(bbox, score, thresh)
        kept.append((bbox[keep].cpu().numpy(), score[keep].cpu().numpy()))
        return keep
    module.nms = nms
    try:
        bboxes, labels, _ = model.predict([img], [size])
    finally:
        module.nms = original
    label = numpy.concatenate([numpy.full(len(b), cls, numpy.int32)
                               for cls, (b, _) in enumerate(kept)])
    assert numpy.array_equal(label, labels[0]) and len(bboxes[0]) == len(
        label), 'the classes predict kept differ from the recorded ones'
    return (numpy.concatenate([b for b, _ in kept]).reshape(-1, 4), label,
            numpy.concatenate([s for _, s in kept]))


def _record_training(tv, model, record, steps, say):
    """``steps`` of the PyTorch version's ``train_step`` on the input."""
    torch = tv.torch
    img, bbox, label = _batch(torch, record)
    trainer = tv.FasterRCNNTrainer(model)
    rec = _Recorder()
    rec.wrap(trainer, 'proposal_target_creator', 'pt')
    rec.wrap(trainer, 'anchor_target_creator', 'at')
    model.train()
    numpy.random.seed(int(record['seed']))
    step_losses = []
    for step in range(steps):
        say('PyTorch version: train_step {} of {}'.format(step + 1, steps))
        losses = trainer.train_step(img, bbox, label, float(record['scale']))
        step_losses.append([float(v.detach()) for v in losses])
        # The targets each step drew, so that the other side can take the
        # very same step (see golden_steps).
        prefix = 'train_steps/{}/'.format(step)
        for name, value in zip(('sample_roi', 'gt_roi_loc', 'gt_roi_label'),
                               rec.seen['pt']):
            record[prefix + name] = value
        for name, value in zip(('gt_rpn_loc', 'gt_rpn_label'),
                               rec.seen['at']):
            record[prefix + name] = value
    rec.undo()
    record['train_steps/losses'] = numpy.array(step_losses)
    record['train_steps/lr'] = numpy.array(tv.opt.lr)
    for name, value in model.state_dict().items():
        value = value.detach().numpy()
        if value.size <= _FULL_PARAM_SIZE:
            record['train_steps/param/' + name] = value.copy()
        else:
            # fc6 alone is 100 million floats: a fixed sample of entries
            # and the norm keep the file small and still catch any drift.
            record['train_steps/sample/' + name] = value.reshape(-1)[
                sample_index(value.size)]
            record['train_steps/norm/' + name] = numpy.array(
                numpy.linalg.norm(value.astype(numpy.float64)))
