"""Side-by-side check against the PyTorch version's own recorded outputs.

A golden file (``tests/data/golden/README.md``) holds what
simple-faster-rcnn-pytorch computed for a model whose weights are rebuilt
from a seed, and one input. :func:`compare_golden` rebuilds the same weights
in a :class:`FasterRCNNVGG16`, runs every recorded stage and returns one
:class:`~fasterrcnn.interop.tolerance.StageResult` per stage, judged by
the rules of :mod:`fasterrcnn.interop.tolerance`.
"""

import math

import chainer
import numpy

from fasterrcnn.backend import to_cpu
from fasterrcnn.creators.anchor_target import AnchorTargetCreator
from fasterrcnn.creators.proposal_target import ProposalTargetCreator
from fasterrcnn.interop.golden_steps import (compare_train_steps,
                                             forward_on_targets,
                                             has_train_steps)
from fasterrcnn.interop.tolerance import StageRows, max_abs
from fasterrcnn.links.backbones.vgg16 import FasterRCNNVGG16
from fasterrcnn.safe_npz import open_npz
from fasterrcnn.weights.state_dict import load_state_dict, pytorch_names


def recipe_state_dict(names, shapes, seed, overrides):
    """The weights of a recipe seed (``tests/data/golden/README.md``).

    Every parameter, in ``state_dict`` order, is drawn from one
    ``RandomState(seed)``: ``standard_normal(shape) * std`` in float32, with
    std 0.01 for biases, the listed override for the RPN / head outputs, and
    He's ``sqrt(2 / fan_in)`` otherwise.

    Args:
        names (sequence of str): parameter names in state_dict order.
        shapes (sequence of tuple): their shapes.
        seed (int): the RandomState seed.
        overrides (dict): name to std, for the weights not drawn He's way.

    Returns:
        dict: name to float32 array.
    """
    rng = numpy.random.RandomState(seed)
    state = {}
    for name, shape in zip(names, shapes):
        if name.endswith('.bias'):
            std = 0.01
        elif name in overrides:
            std = overrides[name]
        else:
            std = math.sqrt(2. / numpy.prod(shape[1:]))
        state[name] = (rng.standard_normal(shape) * std).astype(
            numpy.float32)
    return state


def golden_state_dict(golden):
    """The PyTorch-named weights a golden file was made with: its recipe,
    or the checkpoint it names (read weights only).

    Args:
        golden (mapping): the loaded ``.npz`` file.

    Returns:
        dict: name to float32 array.
    """
    if 'weights_source' in golden and \
            str(golden['weights_source']) == 'checkpoint':
        from fasterrcnn.weights.torch_checkpoint import load_torch_checkpoint
        return load_torch_checkpoint(str(golden['checkpoint']))[0]
    shapes = [tuple(int(v) for v in str(text).strip('()[] ').split(',')
                    if v.strip()) for text in golden['param_shapes']]
    overrides = dict(zip([str(n) for n in golden['std_override_names']],
                         [float(v) for v in golden['std_override_values']]))
    return recipe_state_dict([str(n) for n in golden['param_names']], shapes,
                             int(golden['seed']), overrides)


def _sorted_rows(roi, loc, label):
    """Rows in the golden file's order: by label, then box coordinates."""
    order = numpy.lexsort((roi[:, 3], roi[:, 2], roi[:, 1], roi[:, 0],
                           label))
    return roi[order], loc[order], label[order]


def _training_stages(rows, golden, model, inputs):
    """Train-mode forward, losses and gradients on the golden targets."""
    dev, img, _, _, scale = inputs
    out = forward_on_targets(model, img, scale, dev)
    rows.relative('features', out['features'].array, golden['features'])
    rows.relative('rpn_locs', out['rpn_locs'].array, golden['rpn_locs'])
    rows.relative('rpn_scores', out['rpn_scores'].array, golden['rpn_scores'])
    rows.absolute('anchor', out['anchor'], golden['anchor'], 'anchor_px',
                  ' px')
    rows.boxes('train_rois', out['rois'], golden['train_rois'])
    rows.relative('head_roi_cls_loc', out['roi_cls_loc'].array,
                  golden['head_roi_cls_loc'])
    rows.relative('head_roi_score', out['roi_score'].array,
                  golden['head_roi_score'])
    losses = out['losses']
    for name, ref in zip([str(n) for n in golden['loss_names']],
                         golden['losses']):
        ours = float(losses['loss' if name == 'total_loss' else name].array)
        rows.scalar('loss ' + name, ours, float(ref), 'loss_relative')

    model.cleargrads()
    losses['loss'].backward()
    params = pytorch_names(model)
    for key in golden.files:
        if key.startswith('grad/'):
            rows.gradient(key, params[key[len('grad/'):]].grad, golden[key])
    trained = set()
    for key in golden.files:
        if key.startswith('grad_norm/'):
            name = key[len('grad_norm/'):]
            trained.add(name)
            grad = to_cpu(params[name].grad)
            value = float('inf') if grad is None else float(
                numpy.linalg.norm(grad.astype(numpy.float64)))
            rows.scalar(key, value, float(golden[key]), 'grad_norm_relative')
    frozen = [n for n in params if n not in trained]
    got = [n for n in frozen if params[n].grad is not None]
    rows.add('frozen params without grad ({})'.format(len(frozen)),
             len(got), len(frozen), 'none has a gradient', not got)
    model.cleargrads()


def _creator_stages(rows, golden, inputs):
    """The target creators: all targets, then the sampled ones."""
    dev, img, bbox, label, _ = inputs
    img_size = img.shape[2:]
    # Anchors are float32 on both sides, in every dtype.
    full_loc, full_label = AnchorTargetCreator(n_sample=10 ** 9)(
        bbox, dev('anchor', numpy.float32), img_size)
    rows.same_labels('full_gt_rpn_label', full_label,
                     golden['full_gt_rpn_label'])
    rows.absolute('full_gt_rpn_loc', full_loc, golden['full_gt_rpn_loc'],
                  'creator_loc')
    roi, loc, lab = ProposalTargetCreator(n_sample=10 ** 9, pos_ratio=1.0)(
        dev('train_rois'), bbox, label)
    roi, loc, lab = _sorted_rows(to_cpu(roi), to_cpu(loc), to_cpu(lab))
    ref_lab = golden['full_gt_roi_label']
    rows.same_labels('full_gt_roi_label', lab, ref_lab, ' ({} vs {} rows)'
                     .format(len(lab), len(ref_lab)))
    rows.absolute('full_sample_roi', roi, golden['full_sample_roi'],
                  'creator_loc', ' px')
    rows.absolute('full_gt_roi_loc', loc, golden['full_gt_roi_loc'],
                  'creator_loc')

    # The sampled targets, drawn from RandomState(seed) in the PyTorch
    # version's order, on its proposals: the same draws give the same rows.
    random_state = numpy.random.RandomState(int(golden['seed']))
    s_roi, _, s_label = ProposalTargetCreator()(
        dev('train_rois'), bbox, label, random_state)
    _, r_label = AnchorTargetCreator()(bbox, dev('anchor', numpy.float32),
                                       img_size,
                                       random_state)
    same = (numpy.array_equal(to_cpu(s_label), golden['gt_roi_label']) and
            numpy.array_equal(to_cpu(r_label), golden['gt_rpn_label']) and
            max_abs(s_roi, golden['sample_roi']) <=
            rows.tolerances['creator_loc'])
    rows.add('sampled targets, same seed', 0. if same else 1., 1.,
             'identical draws', same)


def _test_stages(rows, golden, model, inputs):
    """Test-mode proposals, and detections as ``predict`` makes them."""
    _, img, _, _, _ = inputs
    img_size = img.shape[2:]
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
        rows.detections(prefix + '_* detections', ours, ref,
                        model.nms_thresh)


def golden_dtype(golden):
    """The float dtype the PyTorch version ran in for a golden file
    (``dtype`` entry; files without it are float32)."""
    if 'dtype' in golden:
        return numpy.dtype(str(golden['dtype']))
    return numpy.dtype(numpy.float32)


def compare_golden(path, log=None, device=-1, dtype=None):
    """Run every recorded stage of one golden file.

    Args:
        path (str): the ``.npz`` file.
        log (callable or None): called with a progress message per step.
        device (int): GPU id, or -1 for the CPU. On a GPU the model, the
            inputs and the creators run there (CuPy kernels included) and
            the results come back for the comparison, with the same
            tolerances as on the CPU.
        dtype (str or None): the dtype our side runs in (``'float32'`` or
            ``'float64'``); None: the file's own. The tolerances are those
            of float64 only when both sides ran in float64; ours in float64
            against a float32 file measures the PyTorch version's own
            float32 error (docs/parity.md).

    Returns:
        list of StageResult.
    """
    say = log or (lambda message: None)
    with open_npz(path) as golden:
        ref_dtype = golden_dtype(golden)
        dtype = ref_dtype if dtype is None else numpy.dtype(dtype)
        rows = StageRows(str(path).replace('\\', '/').split('/')[-1],
                         numpy.float64 if dtype == ref_dtype == numpy.float64
                         else numpy.float32)
        with chainer.using_config('dtype', dtype):
            _compare(rows, golden, say, device, dtype)
    return rows.rows


def _compare(rows, golden, say, device, dtype):
    """Every stage of one open golden file, our side in ``dtype``."""
    say('rebuilding the weights of {}'.format(rows.file))
    state = golden_state_dict(golden)
    model = FasterRCNNVGG16(state['head.score.weight'].shape[0] - 1)
    load_state_dict(model, state)
    if device >= 0:
        model.to_gpu(device)

    def dev(name, as_type=dtype):
        return model.xp.asarray(golden[name].astype(as_type))

    inputs = (dev, dev('img_in')[None], dev('bbox'),
              dev('label', numpy.int32), float(golden['scale']))
    if 'image' in golden:
        # From the raw image on: our resize and normalisation.
        ours, _ = model.prepare(golden['img_raw'].astype(numpy.float32))
        rows.relative('prepared image', ours, golden['img_in'],
                      'prepared')
    say('training-mode forward and backward')
    _training_stages(rows, golden, model, inputs)
    say('target creators')
    _creator_stages(rows, golden, inputs)
    say('test-mode forward and predict')
    _test_stages(rows, golden, model, inputs)
    if has_train_steps(golden):
        compare_train_steps(rows, golden, state, device, say)
