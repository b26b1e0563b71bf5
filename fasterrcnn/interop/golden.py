"""Side-by-side check against the PyTorch version's own recorded outputs.

A golden file (``tests/data/golden/README.md``) holds what
simple-faster-rcnn-pytorch computed for a model whose weights are rebuilt
from a seed, and one input. :func:`compare_golden` rebuilds the same weights
in a :class:`FasterRCNNVGG16`, runs every recorded stage and returns one
:class:`StageResult` per stage.
"""

import collections
import math

import numpy

import chainer

from fasterrcnn.backend import to_cpu
from fasterrcnn.boxes import bbox_iou
from fasterrcnn.creators.anchor_target import AnchorTargetCreator
from fasterrcnn.creators.proposal_target import ProposalTargetCreator
from fasterrcnn.interop.state_dict import load_state_dict, pytorch_names
from fasterrcnn.links.faster_rcnn_vgg16 import FasterRCNNVGG16
from fasterrcnn.links.losses import faster_rcnn_losses
from fasterrcnn.safe_npz import open_npz

#: One row of the comparison. ``diff`` is the measured disagreement and
#: ``scale`` the reference's size it is compared with (both as printed);
#: ``ok`` says whether the stage is within ``tolerance`` (a text).
StageResult = collections.namedtuple(
    'StageResult', ['file', 'stage', 'diff', 'scale', 'tolerance', 'ok'])


def golden_state_dict(golden):
    """The PyTorch version's weights, rebuilt from the golden file's recipe.

    Every parameter, in ``state_dict`` order, is drawn from one
    ``RandomState(seed)``: ``standard_normal(shape) * std`` in float32, with
    std 0.01 for biases, the listed override for the RPN / head outputs, and
    He's ``sqrt(2 / fan_in)`` otherwise.

    Args:
        golden (mapping): the loaded ``.npz`` file.

    Returns:
        dict: name to float32 array.
    """
    rng = numpy.random.RandomState(int(golden['seed']))
    overrides = dict(zip([str(n) for n in golden['std_override_names']],
                         [float(v) for v in golden['std_override_values']]))
    state = {}
    for name, shape_text in zip(golden['param_names'],
                                golden['param_shapes']):
        name = str(name)
        shape = tuple(int(v) for v in str(shape_text).strip('()[] ').split(
            ',') if v.strip())
        if name.endswith('.bias'):
            std = 0.01
        elif name in overrides:
            std = overrides[name]
        else:
            std = math.sqrt(2. / numpy.prod(shape[1:]))
        state[name] = (rng.standard_normal(shape) * std).astype(
            numpy.float32)
    return state


def _max_abs(a, b):
    a = numpy.asarray(to_cpu(a), numpy.float64)
    b = numpy.asarray(to_cpu(b), numpy.float64)
    if a.shape != b.shape:
        return float('inf')
    return float(numpy.abs(a - b).max()) if a.size else 0.


def _box_recall(ref, ours, atol):
    """Fraction of ``ref`` rows with a row of ``ours`` within ``atol``."""
    if len(ref) == 0:
        return 1.
    if len(ours) == 0:
        return 0.
    found = numpy.zeros(len(ref), dtype=bool)
    for start in range(0, len(ref), 512):
        block = ref[start:start + 512]
        close = (numpy.abs(block[:, None, :] - ours[None, :, :]) <= atol)
        found[start:start + 512] = close.all(axis=2).any(axis=1)
    return float(found.mean())


def _exact_matches(a, b, iou, iou_min, score_tol):
    """``(len(a), len(b))`` bool: same label, IoU >= ``iou_min`` and scores
    within ``score_tol``."""
    return (iou >= iou_min) & (a[1][:, None] == b[1][None, :]) & \
        (numpy.abs(a[2][:, None] - b[2][None, :]) <= score_tol)


def _detection_agreement(ref, ours, nms_thresh, iou_min=0.99,
                         score_tol=1e-3, tie_tol=1e-5):
    """How far two detection sets agree, both ways.

    A detection is matched by one of the other set with the same label, IoU
    at least ``iou_min`` and a score within ``score_tol``. Where two
    candidates of one class have scores within ``tie_tol`` of each other
    and overlap more than ``nms_thresh``, NMS keeps whichever float
    rounding ranks first, and both implementations may pick differently
    (measured on sfr_seed1.npz: two RoIs with class-9 probabilities
    0.4039009 and 0.4039011). Such a pair, one unmatched detection on each
    side, counts as a tie, and so does a detection that the other side
    suppressed with the box it kept from a tie: they are reported, not
    failed.

    Args:
        ref, ours (tuple): ``(bbox, label, score)``: ``(K, 4)`` float boxes
            ``(y_min, x_min, y_max, x_max)``, ``(K,)`` int labels, ``(K,)``
            float scores.
        nms_thresh (float): the IoU above which NMS suppressed.

    Returns:
        tuple: ``(recall, ties)``: the smaller of the two matched fractions
        (ties included) and the number of detections counted as ties.
    """
    if len(ref[0]) == 0 or len(ours[0]) == 0:
        return (1. if len(ref[0]) == len(ours[0]) else 0.), 0
    iou = bbox_iou(ref[0].astype(numpy.float64), ours[0].astype(numpy.float64))
    exact = _exact_matches(ref, ours, iou, iou_min, score_tol)
    ref_free = ~exact.any(axis=1)
    ours_free = ~exact.any(axis=0)
    same_label = ref[1][:, None] == ours[1][None, :]
    tie = same_label & (iou > nms_thresh) & \
        (numpy.abs(ref[2][:, None] - ours[2][None, :]) <= tie_tol) & \
        ref_free[:, None] & ours_free[None, :]
    ref_tie, ours_tie = tie.any(axis=1), tie.any(axis=0)
    # Suppressed on one side by a higher-scored box the other side lacks
    # because of a tie.
    suppress = same_label & (iou > nms_thresh)
    ref_cascade = ref_free & ~ref_tie & (
        suppress & ours_tie[None, :] &
        (ours[2][None, :] > ref[2][:, None])).any(axis=1)
    ours_cascade = ours_free & ~ours_tie & (
        suppress & ref_tie[:, None] &
        (ref[2][:, None] > ours[2][None, :])).any(axis=0)
    ref_ok = ~ref_free | ref_tie | ref_cascade
    ours_ok = ~ours_free | ours_tie | ours_cascade
    ties = int(ref_tie.sum() + ref_cascade.sum() + ours_tie.sum() +
               ours_cascade.sum())
    return min(float(ref_ok.mean()), float(ours_ok.mean())), ties


def _sorted_rows(roi, loc, label):
    order = numpy.lexsort((roi[:, 3], roi[:, 2], roi[:, 1], roi[:, 0],
                           label))
    return roi[order], loc[order], label[order]


class _Rows(object):
    """Collects the rows of one file."""

    def __init__(self, file):
        self.file = file
        self.rows = []

    def add(self, stage, diff, scale, tolerance, ok):
        self.rows.append(StageResult(self.file, stage, diff, scale, tolerance,
                                     bool(ok)))

    def relative(self, stage, ours, ref, rtol):
        diff = _max_abs(ours, ref)
        scale = float(numpy.abs(ref).max()) if numpy.size(ref) else 0.
        self.add(stage, diff, scale, '<= {:g} x max abs(ref)'.format(rtol),
                 diff <= rtol * scale)

    def boxes(self, stage, ours, ref, atol=0.01, min_recall=0.99,
              count_rtol=0.01):
        ours = to_cpu(ours)
        recall = min(_box_recall(ref, ours, atol), _box_recall(ours, ref, atol))
        count_ok = abs(len(ours) - len(ref)) <= count_rtol * len(ref)
        self.add(stage, 1. - recall, len(ref),
                 '>= {:.0%} of boxes within {:g} px, count within {:.0%} '
                 '({} vs {})'.format(min_recall, atol, count_rtol, len(ours),
                                     len(ref)),
                 recall >= min_recall and count_ok)


def compare_golden(path, log=None, device=-1):
    """Run every recorded stage of one golden file.

    Args:
        path (str): the ``.npz`` file.
        log (callable or None): called with a progress message per step.
        device (int): GPU id, or -1 for the CPU. On a GPU the model, the
            inputs and the creators run there (CuPy kernels included) and
            the results come back for the comparison, with the same
            tolerances as on the CPU.

    Returns:
        list of StageResult.
    """
    say = log or (lambda message: None)
    golden = open_npz(path)
    rows = _Rows(str(path).replace('\\', '/').split('/')[-1])
    say('rebuilding the weights of {}'.format(rows.file))
    state = golden_state_dict(golden)
    n_fg_class = state['head.score.weight'].shape[0] - 1
    model = FasterRCNNVGG16(n_fg_class)
    load_state_dict(model, state)
    del state
    if device >= 0:
        model.to_gpu(device)
    xp = model.xp

    def dev(name, dtype=numpy.float32):
        return xp.asarray(golden[name].astype(dtype))

    img = dev('img_in')[None]
    img_size = img.shape[2:]
    scale = float(golden['scale'])
    bbox = dev('bbox')
    label = dev('label', numpy.int32)

    # --- training mode: features, RPN, proposals, losses, gradients -------
    say('training-mode forward')
    with chainer.using_config('train', True):
        features = model.extractor(img)
        rpn_locs, rpn_scores, train_rois, _, anchor = model.rpn(
            features, img_size, scale)
        rows.relative('features', features.array, golden['features'], 1e-4)
        rows.relative('rpn_locs', rpn_locs.array, golden['rpn_locs'], 1e-4)
        rows.relative('rpn_scores', rpn_scores.array, golden['rpn_scores'],
                      1e-4)
        diff = _max_abs(anchor, golden['anchor'])
        rows.add('anchor', diff, float(numpy.abs(golden['anchor']).max()),
                 '<= 1e-4 px', diff <= 1e-4)
        rows.boxes('train_rois', train_rois, golden['train_rois'])

        sample_roi = dev('sample_roi')
        roi_cls_loc, roi_score = model.head(
            features, sample_roi, xp.zeros(len(sample_roi), numpy.int32))
        rows.relative('head_roi_cls_loc', roi_cls_loc.array,
                      golden['head_roi_cls_loc'], 1e-4)
        rows.relative('head_roi_score', roi_score.array,
                      golden['head_roi_score'], 1e-4)
        losses = faster_rcnn_losses(
            rpn_locs[0], rpn_scores[0], dev('gt_rpn_loc'),
            dev('gt_rpn_label', numpy.int32), roi_cls_loc, roi_score,
            dev('gt_roi_loc'), dev('gt_roi_label', numpy.int32))
    names = [str(n) for n in golden['loss_names']]
    ours = [float(losses[n if n != 'total_loss' else 'loss'].array)
            for n in names]
    for name, value, ref in zip(names, ours, golden['losses']):
        diff = abs(value - ref)
        rows.add('loss ' + name, diff, abs(float(ref)), '<= 1e-4 relative',
                 diff <= 1e-4 * abs(ref))

    say('backward of the total loss')
    model.cleargrads()
    losses['loss'].backward()
    params = pytorch_names(model)
    for key in golden.files:
        if key.startswith('grad/'):
            name = key[len('grad/'):]
            ref = golden[key].astype(numpy.float64)
            grad = to_cpu(params[name].grad)
            norm = float(numpy.linalg.norm(ref))
            diff = float('inf') if grad is None else float(
                numpy.linalg.norm(grad.astype(numpy.float64) - ref))
            rows.add(key, diff, norm, 'norm(diff) <= 1e-3 x norm(ref)',
                     diff <= 1e-3 * norm)
    for key in golden.files:
        if key.startswith('grad_norm/'):
            name = key[len('grad_norm/'):]
            ref = float(golden[key])
            grad = to_cpu(params[name].grad)
            value = float('inf') if grad is None else float(
                numpy.linalg.norm(grad.astype(numpy.float64)))
            diff = abs(value - ref)
            rows.add(key, diff, ref, '<= 1e-3 relative', diff <= 1e-3 * ref)
    trained = {k[len('grad_norm/'):] for k in golden.files
               if k.startswith('grad_norm/')}
    frozen = [n for n in params if n not in trained]
    got = [n for n in frozen if params[n].grad is not None]
    rows.add('frozen params without grad ({})'.format(len(frozen)),
             float(len(got)), float(len(frozen)), 'none has a gradient',
             not got)
    del losses
    model.cleargrads()

    # --- creators with subsampling switched off ---------------------------
    say('target creators without subsampling')
    full_loc, full_label = (to_cpu(a) for a in AnchorTargetCreator(
        n_sample=10 ** 9)(bbox, dev('anchor'), img_size))
    same = float((full_label == golden['full_gt_rpn_label']).mean())
    rows.add('full_gt_rpn_label', 1. - same, len(full_label),
             '>= 99.9% identical', same >= 0.999)
    diff = _max_abs(full_loc, golden['full_gt_rpn_loc'])
    rows.add('full_gt_rpn_loc', diff,
             float(numpy.abs(golden['full_gt_rpn_loc']).max()), '<= 1e-4',
             diff <= 1e-4)
    roi, loc, lab = ProposalTargetCreator(n_sample=10 ** 9, pos_ratio=1.0)(
        dev('train_rois'), bbox, label)
    roi, loc, lab = _sorted_rows(to_cpu(roi), to_cpu(loc), to_cpu(lab))
    ref_roi, ref_loc, ref_lab = (golden['full_sample_roi'],
                                 golden['full_gt_roi_loc'],
                                 golden['full_gt_roi_label'])
    if len(lab) == len(ref_lab):
        same = float((lab == ref_lab).mean())
        roi_diff = _max_abs(roi, ref_roi)
        loc_diff = _max_abs(loc, ref_loc)
    else:
        same, roi_diff, loc_diff = 0., float('inf'), float('inf')
    rows.add('full_gt_roi_label', 1. - same, len(ref_lab),
             '>= 99.9% identical ({} vs {} rows)'.format(len(lab),
                                                         len(ref_lab)),
             same >= 0.999)
    rows.add('full_sample_roi', roi_diff, float(numpy.abs(ref_roi).max()),
             '<= 1e-4 px', roi_diff <= 1e-4)
    rows.add('full_gt_roi_loc', loc_diff, float(numpy.abs(ref_loc).max()),
             '<= 1e-4', loc_diff <= 1e-4)

    # The sampled targets, drawn from RandomState(seed) in the PyTorch
    # version's order, on its proposals: the same draws give the same rows.
    random_state = numpy.random.RandomState(int(golden['seed']))
    s_roi, s_loc, s_label = ProposalTargetCreator()(
        dev('train_rois'), bbox, label, random_state)
    r_loc, r_label = AnchorTargetCreator()(bbox, dev('anchor'), img_size,
                                           random_state)
    same = (numpy.array_equal(to_cpu(s_label), golden['gt_roi_label']) and
            numpy.array_equal(to_cpu(r_label), golden['gt_rpn_label']) and
            _max_abs(s_roi, golden['sample_roi']) <= 1e-4)
    rows.add('sampled targets, same seed', 0. if same else 1., 1.,
             'identical draws', same)

    # --- test mode: proposals and detections ------------------------------
    say('test-mode forward and predict')
    size = tuple(int(v) for v in golden['pred_size'])
    pred_scale = img.shape[3] / float(size[1])
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        features = model.extractor(img)
        _, _, test_rois, roi_indices, _ = model.rpn(features, img_size,
                                                    pred_scale)
        rows.boxes('test_rois', test_rois, golden['test_rois'])
        roi_cls_loc, roi_score = model.head(features, test_rois, roi_indices)
    for prefix, score_thresh in (('pred', None), ('pred0', 0.)):
        model.use_preset('evaluate')
        if score_thresh is not None:
            model.score_thresh = score_thresh
        ours = [to_cpu(a) for a in model.decode(
            roi_cls_loc.array, roi_score.array, test_rois, size, pred_scale)]
        ref = (golden[prefix + '_bbox'], golden[prefix + '_label'],
               golden[prefix + '_score'])
        recall, ties = _detection_agreement(ref, ours, model.nms_thresh)
        rows.add(prefix + '_* detections', 1. - recall, len(ref[0]),
                 '>= 99% matched both ways ({} vs {}; {} by score '
                 'ties)'.format(len(ours[0]), len(ref[0]), ties),
                 recall >= 0.99)
    return rows.rows
