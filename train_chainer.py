"""Train Faster R-CNN VGG16 with chainer.training.Trainer (not written yet)."""

import sys

if __name__ == '__main__':
    print('train_chainer.py: training is not implemented yet.',
          file=sys.stderr)
    sys.exit(1)
