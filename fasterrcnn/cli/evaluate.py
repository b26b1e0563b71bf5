"""``fasterrcnn-eval`` (``eval.py``): PASCAL VOC (or COCO) mAP of a trained
model.

    fasterrcnn-eval --model MODEL.npz --data DIR [--split test]
                   [--annotations JSON] [--metric voc07|voc|coco]
                   [--config CFG] [--set KEY=VALUE ...] [--gpu N]
                   [--out result.json] [--vis-dir DIR [--vis-n K]]
                   [--n-images N] [--no-progress]

``MODEL.npz`` is a model file written by ``train_chainer.py`` (weights plus
architecture and class names, see :mod:`fasterrcnn.weights.model_io`), not a
trainer snapshot. ``DIR`` is a data set in the VOC layout
(:class:`fasterrcnn.data.voc.VOCBboxDataset`), or with ``data.format: coco``
the folder of the images of the COCO instances file ``--annotations``
(default: ``data.test_annotations``, relative to ``DIR``; see
:mod:`fasterrcnn.data.datasets`).

The evaluation follows the VOC protocol: objects marked difficult are kept,
a detection matched to one counts neither as a true nor as a false positive,
and they are not counted among the positives. The model predicts with its
``'evaluate'`` preset (NMS 0.3, score 0.05). One pass gives AP per class and
mAP under both definitions: VOC2007's 11-point mean and the area under the
curve (VOC2010 and later); ``--metric`` (default: ``eval.metric``, or when
that is null ``eval.use_07_metric``, true by default) says which one is
*the* mAP of the run. ``--metric coco`` adds COCO's numbers through
pycocotools (AP@[.5:.95], which is then the mAP, AP50, AP75, small / medium
/ large; crowd and difficult objects ignored): :mod:`fasterrcnn.evaluation.
coco`.

Values missing on the command line come from ``--config`` (and its
``--set`` overrides): ``data.dir``, ``data.test_split``,
``data.label_names``, ``data.format``, ``data.test_annotations``,
``eval.n_images``, ``eval.metric``, ``eval.use_07_metric``; the command
line wins. The architecture always comes from the model file; ``model.*``
keys of a config that disagree with it are reported and ignored.

Output: a progress bar on stderr, then the table on stdout. ``--out`` also
writes the numbers as JSON (atomically; ``null`` for an undefined AP).
``--vis-dir`` draws the first ``--vis-n`` (default 10) images as
``DIR/<image id>.png``: predictions with score >= 0.3 (solid, with their
scores; lower than the ``'visualize'`` preset's 0.7 so that a weakly
trained model still shows what it finds) and the ground truth (dashed).

Exit status: 0 on success, 2 for a mistake in the input (missing or wrong
model file, missing data directory or split, classes of the model and the
data set that do not match, an invalid config), with a one-line message.
"""

import argparse
import dataclasses
import os
import sys

import fasterrcnn  # noqa: F401  (chainer through the compat import)
from fasterrcnn.atomic import write_json
from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.cli.common import (MODEL_HELP, UserError, add_config_flags,
                                   add_device_flags, load_model_for_inference,
                                   model_source, positive_int, run_command)
from fasterrcnn.config import KEYS_BY_NAME, load_config
from fasterrcnn.data.bad_examples import (BAD_EXAMPLES_FILE, BadExampleLog,
                                          Subset, apply_policy)
from fasterrcnn.data.datasets import open_split
from fasterrcnn.data.voc import LABELS_FILE
from fasterrcnn.evaluation.coco import MissingDependencyError
from fasterrcnn.evaluation.evaluate import evaluate
from fasterrcnn.evaluation.metrics import METRICS, metrics_with, resolve_metric
from fasterrcnn.evaluation.report import (VIS_SCORE_THRESH, format_ap,
                                          format_sections, format_table,
                                          result_record, save_visualizations)

PROG = 'fasterrcnn-eval'
VIS_N_DEFAULT = 10


def build_parser(prog=PROG):
    parser = argparse.ArgumentParser(
        prog=prog,
        description='PASCAL VOC mAP (VOC07 11-point and area), and on '
                    'request COCO AP, of a trained Faster R-CNN model on a '
                    'VOC-layout or COCO-format data set.')
    parser.add_argument('--model', required=True, metavar='MODEL.npz',
                        help=MODEL_HELP)
    parser.add_argument('--data', metavar='DIR',
                        help='data directory in the VOC layout, or the '
                             'images of COCO-format data (default: data.dir '
                             'of the config)')
    parser.add_argument('--split',
                        help='VOC layout: image set, ImageSets/Main/'
                             '<split>.txt (default: data.test_split of the '
                             'config, \'test\')')
    parser.add_argument('--annotations', metavar='JSON',
                        help='data.format coco: the COCO instances file of '
                             'the images, a path as given (default: '
                             'data.test_annotations of the config, relative '
                             'to the data directory)')
    parser.add_argument('--metric', choices=tuple(METRICS),
                        help='which mAP is the result ({}); default: '
                             'eval.metric of the config, else '
                             'eval.use_07_metric'.format('; '.join(
                                 '{}: {}'.format(name, metric.title)
                                 for name, metric in METRICS.items())))
    add_config_flags(parser)
    add_device_flags(parser)
    parser.add_argument('--out', metavar='result.json',
                        help='also write the results as JSON here')
    parser.add_argument('--vis-dir', metavar='DIR',
                        help='draw predictions (score >= {}) and ground '
                             'truth of the first images as DIR/<id>.png'
                             .format(VIS_SCORE_THRESH))
    parser.add_argument('--vis-n', type=positive_int, metavar='K',
                        help='how many images --vis-dir draws (default: '
                             '{})'.format(VIS_N_DEFAULT))
    parser.add_argument('--n-images', type=positive_int, metavar='N',
                        help='evaluate on the first N images only '
                             '(default: eval.n_images of the config, all)')
    return parser


def _open_dataset(config, data_dir, split, label_names=None):
    if not os.path.isdir(data_dir):
        raise UserError('data directory not found: {}'.format(data_dir))
    try:
        return open_split(config, 'test', data_dir=data_dir, split=split,
                          label_names=label_names)
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None


def _names_source(config_names, data_dir, dataset=None):
    if config_names is not None:
        return 'data.label_names of the config'
    if getattr(dataset, 'annotations', None) is not None:
        return 'the categories of {}'.format(dataset.annotations)
    path = os.path.join(data_dir, LABELS_FILE)
    if os.path.isfile(path):
        return path
    return 'the 20 PASCAL VOC classes (the data directory has no {})'.format(
        LABELS_FILE)


def match_classes(n_model, model_names, data_names, data_source):
    """The class names to read the data set with, or a UserError.

    The model's label ``i`` must mean the data set's class ``i``. The
    counts must agree. When the model file carries its class names they
    must be the data set's names; if only their order differs, the data set
    is read in the model's order (annotations name their classes, so
    nothing is lost).

    Args:
        n_model (int): the model's number of foreground classes.
        model_names (sequence of str or None): names saved with the model.
        data_names (sequence of str): the data set's names.
        data_source (str): where ``data_names`` came from (for messages).

    Returns:
        tuple of str: the names, in the model's label order.
    """
    data_names = tuple(data_names)
    if n_model != len(data_names):
        raise UserError(
            'the model has {} classes but the data set has {} (from {}): '
            'evaluate on the data the model was trained on, or give the '
            'model\'s {} class names as data.label_names in a --config'
            .format(n_model, len(data_names), data_source, n_model))
    if model_names is None:
        return data_names
    model_names = tuple(model_names)
    if set(model_names) != set(data_names):
        only_model = [n for n in model_names if n not in data_names]
        only_data = [n for n in data_names if n not in model_names]
        raise UserError(
            'the model\'s classes are not the data set\'s (from {}): only '
            'the model has {}, only the data set has {}; evaluate on the '
            'data the model was trained on'.format(
                data_source, ', '.join(only_model) or 'none',
                ', '.join(only_data) or 'none'))
    return model_names


def _check_examples(dataset, n, policy, log):
    """The first ``n`` examples, checked now (every annotation parsed, every
    image header read) rather than failing in the middle of a long run;
    ``data.bad_examples`` says whether a bad one stops the evaluation or is
    left out."""
    return apply_policy(Subset(dataset, range(n)), policy, log,
                        prefix=dataset.split + '/', evaluation=True)


def _check_output_dir(path, option):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UserError('{} {}: directory {} does not exist'.format(
            option, path, directory))


def _config_notes(config, model):
    """Lines about model.* config values that the model file overrides.

    Only values that the config sets away from their defaults count: a
    config that leaves ``model`` alone says nothing about the architecture.
    """
    notes = []
    if not hasattr(model, 'init_args'):
        return notes  # chainercv's trained model: its own architecture
    # The model's constructor arguments that the config's model.* keys
    # give, for the model file's backbone (each named as its key).
    wanted_args = dict(type(model).config_args(config.model),
                       n_fg_class=config.model.n_fg_class)
    for field, wanted in wanted_args.items():
        key = KEYS_BY_NAME.get('model.' + field)
        if key is None or field not in model.init_args or wanted is None or \
                wanted == key.default:
            continue
        actual = model.init_args[field]
        if isinstance(wanted, tuple):
            wanted = list(wanted)
        if wanted != actual:
            notes.append('note: the config has model.{} = {} but the model '
                         'file has {}; the model file wins'.format(
                             field, wanted, actual))
    return notes


# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EvalOptions(object):
    """What an evaluation does, from the command line and the config (the
    command line wins).

    Attributes:
        data_dir (str): the data directory.
        split (str or None): the VOC image set, or the COCO annotation file.
        n_images (int or None): evaluate on the first ``n_images`` only.
        metric: the entry of :data:`~fasterrcnn.evaluation.metrics.METRICS`
            whose mean is *the* mAP of the run.
        why (str): what chose ``metric``, for the closing line.
        vis_n (int): how many images ``--vis-dir`` draws.
    """
    data_dir: str
    split: object
    n_images: object
    metric: object
    why: str
    vis_n: int


def resolve_options(args, config):
    """The :class:`EvalOptions` of ``args`` and ``config``, or a UserError
    for flags that do not go together."""
    data_dir = args.data if args.data is not None else config.data.dir
    if data_dir is None:
        raise UserError('no data directory: pass --data DIR or set data.dir '
                        'in the --config')
    coco_data = config.data.format == 'coco'
    if coco_data and args.split is not None:
        raise UserError('--split names a VOC image set, but data.format is '
                        'coco: give the annotation file with --annotations')
    if not coco_data and args.annotations is not None:
        raise UserError('--annotations is for COCO-format data: add --set '
                        'data.format=coco')
    if coco_data:
        split = args.annotations
    else:
        split = args.split if args.split is not None \
            else config.data.test_split
    n_images = args.n_images if args.n_images is not None \
        else config.eval.n_images
    use_07_metric = config.eval.use_07_metric
    metric_key = args.metric if args.metric is not None \
        else config.eval.metric
    if args.metric is not None:
        why = '--metric {}'.format(args.metric)
    elif metric_key is not None:
        why = 'the config asks for it: eval.metric is {}'.format(metric_key)
    else:
        why = 'the config asks for it: eval.use_07_metric is {}'.format(
            'true' if use_07_metric else 'false')
    if args.vis_n is not None and args.vis_dir is None:
        raise UserError('--vis-n needs --vis-dir (where to write the PNGs)')
    if args.out is not None:
        _check_output_dir(args.out, '--out')
    return EvalOptions(
        data_dir=data_dir, split=split, n_images=n_images,
        metric=resolve_metric(metric_key, use_07_metric), why=why,
        vis_n=args.vis_n if args.vis_n is not None else VIS_N_DEFAULT)


def open_examples(config, options, model, model_names, bad_log):
    """The data set read with the model's classes, and its first images,
    checked.

    Returns:
        tuple: the data set, its class names (in the model's label order)
        and the examples to evaluate (see :func:`_check_examples`).
    """
    config_names = config.data.label_names
    dataset = _open_dataset(config, options.data_dir, options.split,
                            config_names)
    names = match_classes(model.n_fg_class, model_names, dataset.label_names,
                          _names_source(config_names, options.data_dir,
                                        dataset))
    if names != dataset.label_names:
        print('note: reading the data set with the model\'s class order '
              '({})'.format(', '.join(names)), file=sys.stderr)
        dataset = _open_dataset(config, options.data_dir, options.split,
                                names)
    n_in_split = len(dataset)
    n = n_in_split if options.n_images is None \
        else min(options.n_images, n_in_split)
    if n == 0:
        raise UserError('the {!r} split of {} lists no images'.format(
            dataset.split, options.data_dir))
    examples = _check_examples(dataset, n, config.data.bad_examples,
                               bad_log)
    return dataset, names, examples


def print_results(args, options, result, split, n_in_split, names,
                  device):
    """The table, each metric's own section and the closing lines."""
    print('model: {}'.format(args.model))
    print('data:  {} (split {!r}, {} of {} images)'.format(
        options.data_dir, split, result['n_images'], n_in_split))
    print(format_table(result, names))
    for section in format_sections(result, names):
        print(section)
    metric = options.metric
    print('mAP {} ({}; {})'.format(
        format_ap(result['metrics'][metric.name]['map']), metric.title,
        options.why))
    print('{} images in {:.1f} s ({:.2f} images/s, {})'.format(
        result['n_images'], result['seconds'], result['images_per_second'],
        device))


def run(args):
    """Evaluate as ``args`` say; returns the exit status."""
    config = load_config(args.config, args.set)
    options = resolve_options(args, config)

    model, model_names = load_model_for_inference(args.model, 'evaluate',
                                                  args.gpu)
    if args.config is not None or args.set:
        for note in _config_notes(config, model):
            print(note, file=sys.stderr)
    bad_log = BadExampleLog(
        None if args.out is None else os.path.join(
            os.path.dirname(os.path.abspath(args.out)), BAD_EXAMPLES_FILE))
    dataset, names, examples = open_examples(config, options, model,
                                             model_names, bad_log)
    if args.vis_dir is not None:
        try:
            os.makedirs(args.vis_dir, exist_ok=True)
        except OSError as e:
            raise UserError('--vis-dir {}: {}'.format(args.vis_dir, e)) \
                from None

    try:
        result = evaluate(model, examples, n_images=len(examples),
                          progress=not args.no_progress,
                          batch_size=config.eval.batch_size,
                          metrics=metrics_with(options.metric))
    except MissingDependencyError as e:
        raise UserError(str(e)) from None

    device = 'cpu' if args.gpu < 0 else 'gpu:{}'.format(args.gpu)
    print_results(args, options, result, dataset.split, len(dataset), names,
                  device)
    if bad_log.summary():
        print(bad_log.summary())
    if args.out is not None:
        write_json(args.out, result_record(
            result, model_source(args.model), options.data_dir, dataset.split,
            len(dataset), names, config.eval.use_07_metric, device,
            metric=options.metric.name))
        print('results written to {}'.format(args.out))
    if args.vis_dir is not None:
        paths = save_visualizations(examples, result, names, args.vis_dir,
                                    options.vis_n)
        print('{} drawing{} written to {}'.format(
            len(paths), '' if len(paths) == 1 else 's', args.vis_dir))
    return 0


def main(argv=None, prog=PROG):
    """Command-line entry point; returns the exit status (2: bad input)."""
    keep_freed_memory()
    return run_command(prog, build_parser(prog), run, argv)


if __name__ == '__main__':
    sys.exit(main())
