"""Detections of a trained Faster R-CNN model on image files.

    python predict.py --model MODEL.npz --out DIR [--gpu N]
                      [--preset visualize|evaluate] [--score-thresh T]
                      [--batch-size B] [--skip-bad] [--no-progress]
                      IMAGE_OR_FOLDER [IMAGE_OR_FOLDER ...]

The same command as the installed ``fasterrcnn-predict``; see
:mod:`fasterrcnn.cli.predict`.
"""

import sys

from fasterrcnn.cli.predict import main

if __name__ == '__main__':
    sys.exit(main(prog='predict.py'))
