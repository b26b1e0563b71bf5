"""The CPU demo behind ``make demo``: shapes data, training, evaluation.

Not there yet: training (train_chainer.py) comes first. Until then this
says so and exits with status 1.
"""

import sys


def main():
    print('make demo: the demo needs the training script (train_chainer.py) '
          'and the shapes data set, which are not written yet.',
          file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
