"""``fasterrcnn-convert``: a data set from the VOC layout to COCO JSON, and
back.

    fasterrcnn-convert voc2coco VOC_DIR --split S --out FILE.json
        [--labels labels.txt]
    fasterrcnn-convert coco2voc IMAGE_DIR ANNOTATIONS.json --split S
        --out VOC_DIR [--no-progress]

``voc2coco`` writes the split's images and objects as COCO instances JSON
(difficult objects as ``iscrowd: 1``; ``file_name`` is ``JPEGImages/<id>
.jpg``, so the VOC folder is the image folder of the COCO config).
``coco2voc`` writes a VOC-layout folder (see
:func:`fasterrcnn.data.convert.coco_to_voc`). Either way, the readers give
the same boxes, labels and flags back. Errors are one line (exit status
2); a progress bar runs while images are written.
"""

import argparse
import json
import os
import sys

import fasterrcnn  # noqa: F401  (chainer through the compat import)
from fasterrcnn.atomic import atomic_write
from fasterrcnn.cli.common import UserError, run_command
from fasterrcnn.data.coco import load_coco_json, voc_to_coco
from fasterrcnn.data.convert import coco_to_voc
from fasterrcnn.data.voc import read_label_names
from fasterrcnn.progress import Progress

PROG = 'fasterrcnn-convert'


def build_parser(prog=PROG):
    parser = argparse.ArgumentParser(
        prog=prog, description='Convert a detection data set between the '
        'VOC layout and COCO instances JSON.')
    sub = parser.add_subparsers(dest='command', required=True)
    v2c = sub.add_parser('voc2coco', help='a VOC split -> COCO JSON')
    v2c.add_argument('voc_dir', metavar='VOC_DIR')
    v2c.add_argument('--split', required=True, help='ImageSets/Main/<S>.txt')
    v2c.add_argument('--out', required=True, metavar='FILE.json')
    v2c.add_argument('--labels', metavar='labels.txt',
                     help='class names, one a line (default: VOC_DIR/'
                          'labels.txt, else the 20 VOC names)')
    c2v = sub.add_parser('coco2voc', help='COCO JSON -> a VOC-layout folder')
    c2v.add_argument('image_dir', metavar='IMAGE_DIR')
    c2v.add_argument('annotations', metavar='ANNOTATIONS.json')
    c2v.add_argument('--split', required=True,
                     help='the split name to write (ImageSets/Main/<S>.txt)')
    c2v.add_argument('--out', required=True, metavar='VOC_DIR')
    c2v.add_argument('--no-progress', action='store_true',
                     help='no progress bar')
    return parser


def run(args):
    try:
        if args.command == 'voc2coco':
            names = read_label_names(args.labels) if args.labels else None
            data = voc_to_coco(args.voc_dir, args.split, names)
            with atomic_write(args.out, binary=False) as f:
                json.dump(data, f)
            print('{}: {} images, {} objects, {} classes'.format(
                args.out, len(data['images']), len(data['annotations']),
                len(data['categories'])))
            return 0
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise UserError('--out {}: exists and is not a folder'.format(
                args.out))
        total = len(load_coco_json(args.annotations)[0])
        bar = Progress(total, desc='coco2voc', unit='images',
                       enabled=not args.no_progress)
        try:
            n = coco_to_voc(args.image_dir, args.annotations, args.out,
                            args.split, progress=lambda: bar.update(
                                bar.done + 1))
        finally:
            bar.close()
        print('{}: {} images of split {}'.format(args.out, n, args.split))
        return 0
    except ValueError as e:
        raise UserError(e.args[0] if e.args else e) from None


def main(argv=None, prog=PROG):
    """Command-line entry point; returns the exit status (2: bad input)."""
    return run_command(prog, build_parser(prog), run, argv)


if __name__ == '__main__':
    sys.exit(main())
