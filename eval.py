"""PASCAL VOC mAP of a trained Faster R-CNN model.

    python eval.py --model MODEL.npz --data DIR [--split test]
                   [--config CFG] [--set KEY=VALUE ...] [--gpu N]
                   [--out result.json] [--vis-dir DIR [--vis-n K]]
                   [--n-images N] [--no-progress]

The same command as the installed ``fasterrcnn-eval``; see
:mod:`fasterrcnn.cli.evaluate`.
"""

import sys

from fasterrcnn.cli.evaluate import main

if __name__ == '__main__':
    sys.exit(main(prog='eval.py'))
