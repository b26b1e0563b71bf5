"""``fasterrcnn-predict`` (``predict.py``): detections of a trained model on
image files.

    fasterrcnn-predict --model MODEL.npz [--out DIR] [--gpu N]
                       [--preset visualize|evaluate] [--score-thresh T]
                       [--batch-size B] [--skip-bad] [--no-progress]
                       IMAGE_OR_FOLDER [IMAGE_OR_FOLDER ...]

``MODEL.npz`` is any model file ``fasterrcnn-eval`` reads (written by
``train_chainer.py``, see :mod:`fasterrcnn.weights.model_io`); it is read as
data, nothing in it runs. ``--model voc07`` (or ``voc0712``) is chainercv's
trained model, fetched on first use and run as chainercv runs it
(:mod:`fasterrcnn.chainercv.trained`). Each path is an image file, or a
folder whose image files (``.jpg .jpeg .png .bmp .ppm``, in any case; not
its subfolders, not hidden files) are taken in name order. A file named
twice is predicted once.

Without ``--out`` nothing is written: each image's detections are printed
on stdout, a line for the image (``photos/NAME.EXT: N detections``) and one
per detection (``  NAME SCORE (y_min, x_min, y_max, x_max)``, pixels of the
image). With ``--out DIR``, for each image ``photos/NAME.EXT`` two files are
written in ``DIR``:

* ``NAME.json``: the image's path (absolute), its ``height`` and ``width``
  in pixels, ``bbox_order`` (``["y_min", "x_min", "y_max", "x_max"]``), the
  thresholds used, and ``detections``, a list (best score first within each
  class, classes in label order, as ``predict`` returns them) of
  ``{"bbox": [4 floats], "label": int, "label_name": str or null,
  "score": float}``; boxes are in pixels of the original image, ``(0, 0)``
  its top-left corner. Written atomically.
* ``NAME.png``: the image with the boxes drawn, each labelled with its class
  name and score.

Two inputs with the same ``NAME`` (``a/x.jpg`` and ``b/x.jpg``, or
``x.jpg`` and ``x.png``) do not overwrite each other: the first one in
command-line order keeps ``NAME``, the next ones get ``NAME_2``,
``NAME_3``, ... (the first of these not taken by another input; names are
compared ignoring case, for case-insensitive file systems); a note on
stderr says which, and the JSON names the source image.

The model predicts with ``--preset`` (default ``visualize``: NMS 0.3, score
0.7; ``evaluate``: NMS 0.3, score 0.05); ``--score-thresh`` then replaces
the preset's score threshold. ``--batch-size`` images go through
``predict`` at a time (one padded batch; each image gets the detections it
gets alone, to float rounding); the next images are read on a thread
meanwhile.

Output: a progress bar on stderr, then one line on stdout: ``N images, M
detections (K skipped), written to DIR`` (without ``, written to DIR`` when
there is no ``--out``).

Exit status: 0 on success; 2 for a mistake in the input, with a one-line
message: a missing or wrong model file, a missing path, a folder without
images, an output folder that is not writable or would overwrite an input
image, or a bad image (missing, empty, truncated, not an image). With
``--skip-bad`` a bad image is a warning line instead, is left out, and is
counted in the closing line (unless every image is bad). 3, with one line,
when writing an output fails (a full disk). Outputs written before an error
are complete; those of later images are missing.
"""

import argparse
import os
import sys

import numpy

import fasterrcnn  # noqa: F401  (chainer through the compat import)
from fasterrcnn.atomic import atomic_write, write_json
from fasterrcnn.backend import keep_freed_memory
from fasterrcnn.cli.common import (MODEL_HELP, RunFault, UserError,
                                   add_device_flags, error_message,
                                   load_model_for_inference, positive_int,
                                   run_command)
from fasterrcnn.cli.predict_paths import (IMAGE_EXTENSIONS, check_outputs,
                                          list_images, output_names)
from fasterrcnn.data.bad_examples import BadExampleError
from fasterrcnn.data.image import read_image
from fasterrcnn.data.prefetch import read_ahead
from fasterrcnn.links.faster_rcnn import PRESETS
from fasterrcnn.progress import Progress

PROG = 'fasterrcnn-predict'
#: The order of a box's four numbers in the JSON (the project's order).
BBOX_ORDER = ('y_min', 'x_min', 'y_max', 'x_max')
DEFAULT_PRESET = 'visualize'


def _score_thresh(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    # "not 0 <= value <= 1" also refuses NaN.
    if value is None or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            'expected a probability between 0 and 1, got {!r}'.format(text))
    return value


def build_parser(prog=PROG):
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Detect objects in images with a trained Faster R-CNN '
                    'model: the detections of each image printed, or with '
                    '--out DIR written as DIR/<name>.json (boxes, classes, '
                    'scores) and DIR/<name>.png (the boxes drawn).')
    parser.add_argument('inputs', nargs='+', metavar='IMAGE_OR_FOLDER',
                        help='image files, or folders whose {} files are '
                             'taken (sorted by name; not subfolders)'
                             .format(' '.join(IMAGE_EXTENSIONS)))
    parser.add_argument('--model', required=True, metavar='MODEL.npz',
                        help=MODEL_HELP)
    parser.add_argument('--out', metavar='DIR',
                        help='output folder (made if missing) for each '
                             'image\'s NAME.json and NAME.png; without it '
                             'the detections are printed')
    parser.add_argument('--preset', choices=sorted(PRESETS),
                        default=DEFAULT_PRESET,
                        help='thresholds of predict: visualize (NMS {}, '
                             'score {}) or evaluate (NMS {}, score {}); '
                             'default: {}'.format(
                                 *(PRESETS['visualize'] + PRESETS['evaluate']
                                   + (DEFAULT_PRESET,))))
    parser.add_argument('--score-thresh', type=_score_thresh, metavar='T',
                        help='a detection\'s class probability must '
                             'exceed T (replaces the preset\'s threshold)')
    parser.add_argument('--batch-size', type=positive_int, default=1,
                        metavar='B',
                        help='images per predict call (default: 1)')
    parser.add_argument('--skip-bad', action='store_true',
                        help='leave out a bad image (unreadable, truncated, '
                             'not an image) with a warning instead of '
                             'stopping')
    add_device_flags(parser)
    return parser


# -- one image's outputs ---------------------------------------------------

def _float32(value):
    """A float32 as the shortest decimal that reads back as the same float32
    (``0.7`` rather than ``0.699999988079071``)."""
    return float(str(numpy.float32(value)))


def detection_record(image, size, bbox, label, score, label_names, preset,
                     nms_thresh, score_thresh):
    """One image's detections as plain JSON data.

    Args:
        image (str): the image file.
        size (tuple of int): ``(H, W)`` of the image.
        bbox (numpy.ndarray): ``(R, 4)`` float32 boxes,
            ``(y_min, x_min, y_max, x_max)`` in pixels of the image.
        label (numpy.ndarray): ``(R,)`` int32 labels in
            ``[0, n_fg_class)``.
        score (numpy.ndarray): ``(R,)`` float32 probabilities.
        label_names (sequence of str or None): the model's class names.
        preset (str): the preset used; ``nms_thresh``, ``score_thresh``
            (float): the thresholds in effect.

    Returns:
        dict: what ``NAME.json`` holds (see the module's docstring).
    """
    detections = []
    for box, lab, sc in zip(bbox, label, score):
        lab = int(lab)
        detections.append({
            'bbox': [_float32(v) for v in box],
            'label': lab,
            'label_name': label_names[lab] if label_names is not None and
            lab < len(label_names) else None,
            'score': _float32(sc),
        })
    return {
        'image': os.path.abspath(image),
        'height': int(size[0]),
        'width': int(size[1]),
        'bbox_order': list(BBOX_ORDER),
        'preset': preset,
        'nms_thresh': float(nms_thresh),
        'score_thresh': float(score_thresh),
        'detections': detections,
    }


def save_drawing(path, img, bbox, label, score, label_names):
    """Write the image with its detections drawn as a PNG, atomically.

    Args:
        path (str): the PNG to write.
        img (numpy.ndarray): ``(3, H, W)`` float32 RGB in ``[0, 255]``.
        bbox, label, score: as :func:`detection_record`'s.
        label_names (sequence of str or None): None labels boxes with
            numbers.
    """
    # matplotlib is imported only when something is drawn.
    from fasterrcnn.visualize import draw_detections
    fig = draw_detections(img, bbox, label, score, label_names=label_names)
    with atomic_write(path) as f:
        fig.savefig(f, dpi=fig.dpi, format='png')


def print_detections(image, bbox, label, score, label_names):
    """One image's detections as lines on stdout (without ``--out``).

    Args: as :func:`detection_record`'s.
    """
    lines = ['{}: {} detection{}'.format(image, len(bbox),
                                         '' if len(bbox) == 1 else 's')]
    for box, lab, sc in zip(bbox, label, score):
        lab = int(lab)
        name = label_names[lab] if label_names is not None and \
            lab < len(label_names) else 'label {}'.format(lab)
        lines.append('  {} {:.3f} ({})'.format(
            name, float(sc), ', '.join('{:.1f}'.format(v) for v in box)))
    print('\n'.join(lines), flush=True)


# --------------------------------------------------------------------------

def _read(images):
    """``(index, img, error)`` for each image, read in order: ``img`` the
    ``(3, H, W)`` float32 RGB array, or None and the BadExampleError that
    names the file."""
    for i, path in enumerate(images):
        try:
            yield i, read_image(path), None
        except BadExampleError as e:
            yield i, None, e


class _ChunkPredictor(object):
    """Predicts chunks of images, one batch each, and writes each image's
    JSON and PNG (or prints its detections).

    Args:
        model: the model, with the thresholds to use.
        label_names (sequence of str or None): its class names.
        out (str or None): the output folder; None: print the detections.
        preset (str): the preset's name, for the JSON.
        images (list of str): the image files; ``names`` (list of str): the
            output name of each.
    """

    def __init__(self, model, label_names, out, preset, images, names):
        self.model, self.label_names = model, label_names
        self.out, self.preset = out, preset
        self.images, self.names = images, names
        self.n_images = self.n_detections = 0

    def predict_and_write(self, chunk):
        """Predict ``chunk`` in one batch and write each image's JSON and
        PNG.

        Args:
            chunk (list of tuple): ``(index, img)``: the image's position in
                ``images``, and its ``(3, H, W)`` float32 RGB array in
                ``[0, 255]``.
        """
        bboxes, labels, scores = self.model.predict([img for _, img in chunk])
        for (i, img), bbox, label, score in zip(chunk, bboxes, labels,
                                                scores):
            if self.out is None:
                print_detections(self.images[i], bbox, label, score,
                                 self.label_names)
            else:
                self._write(i, img, bbox, label, score)
            self.n_images += 1
            self.n_detections += len(bbox)

    def _write(self, i, img, bbox, label, score):
        """Image ``i``'s JSON and PNG (see :func:`detection_record`)."""
        out = os.path.join(self.out, self.names[i])
        # Both or neither: the drawing first, then the JSON; stopped
        # in between (Ctrl-C, a full disk), the pair is removed.
        save_drawing(out + '.png', img, bbox, label, score,
                     self.label_names)
        try:
            write_json(out + '.json', detection_record(
                self.images[i], img.shape[1:], bbox, label, score,
                self.label_names, self.preset, self.model.nms_thresh,
                self.model.score_thresh))
        except BaseException:
            for ext in ('.png', '.json'):
                try:
                    os.remove(out + ext)
                except OSError:
                    pass
            raise


def predict_all(predictor, images, batch_size, skip_bad, progress):
    """Read the images in order and predict them ``batch_size`` at a time
    (the one place they are cut into batches).

    Args:
        predictor (_ChunkPredictor): predicts and writes a chunk.
        images (list of str): the image files.
        batch_size (int): images per ``predict`` call.
        skip_bad (bool): leave a bad image out with a warning (else a
            BadExampleError stops the run).
        progress (bool): a progress bar on stderr.

    Returns:
        list of str: the images left out.
    """
    skipped, chunk = [], []
    bar = Progress(len(images), desc='predict', unit='images',
                   enabled=progress)
    try:
        # The next image is decoded on a thread while a chunk is predicted.
        for i, img, error in read_ahead(_read(images)):
            if error is not None:
                if not skip_bad:
                    raise BadExampleError(
                        '{} (pass --skip-bad to leave bad images out)'
                        .format(error_message(error)))
                skipped.append(images[i])
                print('warning: bad image left out: {}'.format(
                    error_message(error)), file=sys.stderr, flush=True)
            else:
                chunk.append((i, img))
            if len(chunk) == batch_size:
                predictor.predict_and_write(chunk)
                chunk = []
            bar.update(i + 1 - len(chunk))
        if chunk:
            predictor.predict_and_write(chunk)
            bar.update(len(images))
    except BaseException as e:
        # The error's one line is the last word: no closing progress line
        # ("predict: 2/5 images ...") after it.
        bar.enabled = False
        if isinstance(e, OSError) and not isinstance(e, BadExampleError):
            # Writing an output failed (a full disk): the outputs written
            # so far are complete (atomic), the rest missing.
            raise RunFault('{} ({} of {} images written to {})'.format(
                error_message(e), predictor.n_images, len(images),
                predictor.out)) from None
        raise
    finally:
        bar.close()
    return skipped


def _make_output_folder(out):
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise UserError('--out: {}'.format(error_message(e))) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError('--out {}: this folder is not writable'.format(out))


def run(args):
    """Predict as ``args`` say; returns the exit status."""
    images = list_images(args.inputs)
    names = output_names(images)
    if args.out is not None:
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise UserError('--out {}: exists and is not a folder'.format(
                args.out))
        check_outputs(images, names, args.out)

    model, label_names = load_model_for_inference(args.model, args.preset,
                                                  args.gpu)
    if args.score_thresh is not None:
        model.score_thresh = args.score_thresh
    if args.out is not None:
        _make_output_folder(args.out)
        for image, name in zip(images, names):
            stem = os.path.splitext(os.path.basename(image))[0]
            if name != stem:
                print('note: {} is written as {}.json and {}.png (an '
                      'earlier input has the name {})'.format(
                          image, name, name, stem), file=sys.stderr)

    predictor = _ChunkPredictor(model, label_names, args.out, args.preset,
                                images, names)
    skipped = predict_all(predictor, images, args.batch_size, args.skip_bad,
                          not args.no_progress)
    if predictor.n_images == 0:
        raise BadExampleError('every one of the {} image{} is bad; nothing '
                              'was written'.format(
                                  len(images),
                                  '' if len(images) == 1 else 's'))
    print('{} image{}, {} detection{} ({} skipped){}'.format(
        predictor.n_images, '' if predictor.n_images == 1 else 's',
        predictor.n_detections, '' if predictor.n_detections == 1 else 's',
        len(skipped), '' if args.out is None
        else ', written to {}'.format(args.out)))
    return 0


def main(argv=None, prog=PROG):
    """Command-line entry point; returns the exit status (2: bad input)."""
    keep_freed_memory()
    return run_command(prog, build_parser(prog), run, argv)


if __name__ == '__main__':
    sys.exit(main())
