"""Training side by side: SGD steps of a golden file, run here and compared.

A golden file made with ``train_steps`` (:func:`~fasterrcnn.interop.
dump_torch.dump_torch`) holds, for every step of the PyTorch version's
``train_step``, the targets its creators drew and its four losses and
total, and every parameter after the last step (a sample and the norm of
the largest). Here the same weights take the same steps on the same input
with the same targets and the PyTorch version's optimizer
(:func:`~fasterrcnn.training.builder.setup_optimizer`: SGD with momentum
0.9, weight decay 5e-4 on weights, biases at twice the rate without decay,
conv1_1 .. conv2_2 frozen, the file's learning rate).

Why its targets and not our own draws: the draws are the same (the stage
"sampled targets, same seed" checks them), but they are made on proposals,
and a float-level difference in the weights moves a proposal across an NMS
or top-k boundary after a step or two; from there the sampled RoIs differ
and the losses part ways for that reason alone (measured: step 1 agrees to
1e-7, step 5 by 5 %). Feeding both sides the same targets compares what
this check is for: the losses, the gradients and the optimizer.
"""

import chainer
import numpy

from fasterrcnn.backend import float_dtype, to_cpu
from fasterrcnn.links.backbones.vgg16 import FasterRCNNVGG16
from fasterrcnn.links.losses import faster_rcnn_losses
from fasterrcnn.links.train_chain import FasterRCNNTrainChain
from fasterrcnn.training.builder import setup_optimizer
from fasterrcnn.weights.state_dict import load_state_dict, pytorch_names


def forward_on_targets(model, img, scale, read, prefix=''):
    """The train-mode forward with a golden file's targets, not our draws.

    Args:
        model (FasterRCNNVGG16): the model (on the device of ``img``).
        img (array): ``(1, 3, H, W)`` float32 network input.
        scale (float): the input's resize factor.
        read (callable): ``read(name, dtype)`` gives an entry of the golden
            file as an array on the model's device, by default in the
            dtype the comparison runs in.
        prefix (str): where the targets are (``''``, or a training step's
            ``'train_steps/<i>/'``).

    Returns:
        dict: ``features``, ``rpn_locs``, ``rpn_scores``, ``rois`` (the
        proposals), ``anchor``, ``roi_cls_loc``, ``roi_score`` and
        ``losses`` (the dict of :func:`faster_rcnn_losses`).
    """
    xp = model.xp
    with chainer.using_config('train', True):
        features = model.extractor(img)
        rpn_locs, rpn_scores, rois, _, anchor = model.rpn(
            features, img.shape[2:], scale)
        sample_roi = read(prefix + 'sample_roi')
        roi_cls_loc, roi_score = model.head(
            features, sample_roi, xp.zeros(len(sample_roi), numpy.int32))
        losses = faster_rcnn_losses(
            rpn_locs[0], rpn_scores[0],
            read(prefix + 'gt_rpn_loc'),
            read(prefix + 'gt_rpn_label', numpy.int32), roi_cls_loc,
            roi_score, read(prefix + 'gt_roi_loc'),
            read(prefix + 'gt_roi_label', numpy.int32))
    return dict(features=features, rpn_locs=rpn_locs, rpn_scores=rpn_scores,
                rois=rois, anchor=anchor, roi_cls_loc=roi_cls_loc,
                roi_score=roi_score, losses=losses)


def has_train_steps(golden):
    """Whether the golden file recorded training steps."""
    return 'train_steps/losses' in golden


def compare_train_steps(rows, golden, state, device=-1, log=None):
    """Run the recorded steps here; one row per loss and step, one per
    parameter after the last step.

    Args:
        rows (StageRows): receives the rows.
        golden (mapping): the golden file.
        state (dict): the starting weights, PyTorch-named.
        device (int): GPU id or -1.
        log (callable or None): progress messages.
    """
    say = log or (lambda message: None)
    model = FasterRCNNVGG16(state['head.score.weight'].shape[0] - 1)
    load_state_dict(model, state)
    chain = FasterRCNNTrainChain(model)
    if device >= 0:
        chain.to_gpu(device)
    optimizer, _ = setup_optimizer(chain, float(golden['train_steps/lr']))
    xp = chain.xp

    def dev(name, dtype=float_dtype()):
        return xp.asarray(golden[name].astype(dtype))

    img = dev('img_in')[None]
    scale = float(golden['scale'])
    names = [str(n) for n in golden['loss_names']]
    n_steps = len(golden['train_steps/losses'])
    for step, ref in enumerate(golden['train_steps/losses']):
        say('train step {} of {}'.format(step + 1, n_steps))
        losses = forward_on_targets(model, img, scale, dev,
                                    'train_steps/{}/'.format(step))['losses']
        chain.cleargrads()
        losses['loss'].backward()
        optimizer.update()
        for name, value in zip(names, ref):
            ours = float(to_cpu(losses['loss' if name == 'total_loss'
                                       else name].array))
            rows.scalar('step {} {}'.format(step + 1, name), ours,
                        float(value), 'train_loss_relative', step + 1)
    params = pytorch_names(model)
    after = 'after {} steps '.format(len(golden['train_steps/losses']))
    for key in golden.files:
        kind, _, name = key[len('train_steps/'):].partition('/')
        if not key.startswith('train_steps/') or \
                kind not in ('param', 'sample', 'norm'):
            continue
        ours = to_cpu(params[name].array)
        if kind == 'param':
            rows.relative(after + name, ours, golden[key],
                          'train_param_relative')
        elif kind == 'sample':
            rows.relative(after + name + ' (sample)', ours.reshape(-1)[
                sample_index(ours.size)], golden[key],
                'train_param_relative')
        elif kind == 'norm':
            rows.scalar(after + name + ' (norm)', float(numpy.linalg.norm(
                ours.astype(numpy.float64))), float(golden[key]),
                'train_param_relative')


def sample_index(size, n=4096):
    """The flat indices recorded of a parameter too large to keep whole
    (``size`` elements): fixed per size, sorted."""
    return numpy.sort(numpy.random.RandomState(size % 2 ** 32).choice(
        size, n, replace=False))
