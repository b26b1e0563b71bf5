"""Train Faster R-CNN VGG16 with chainer.training.Trainer.

    python train_chainer.py --config configs/NAME.yaml [--out DIR] [--gpu N]
        [--resume DIR|auto|FILE] [--iterations N] [--snapshot-every N]
        [--set KEY=VALUE ...] [--help-config] [--no-progress]

The same command as the installed ``fasterrcnn-train``; see
:mod:`fasterrcnn.cli.train`.
"""

import sys

from fasterrcnn.cli.train import console_main

if __name__ == '__main__':
    sys.exit(console_main(prog='train_chainer.py'))
