"""The command lines, installed as console scripts (``pip install .``).

    fasterrcnn-train    train_chainer.py     fasterrcnn.cli.train
    fasterrcnn-eval     eval.py              fasterrcnn.cli.evaluate
    fasterrcnn-compare  python -m fasterrcnn.interop.compare
    fasterrcnn-interop  python -m fasterrcnn.interop
    fasterrcnn-shapes   python -m fasterrcnn.data.shapes
    fasterrcnn-demo     python -m fasterrcnn.demo

Every command shares :mod:`fasterrcnn.cli.common`: the ``--config`` /
``--set`` / ``--gpu`` / ``--no-progress`` flags, the GPU check, and one
error path (a one-line message, exit status 2).
"""
