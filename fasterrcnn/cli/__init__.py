"""The command lines, installed as console scripts (``pip install .``).

    fasterrcnn-train    train_chainer.py     fasterrcnn.cli.train
    fasterrcnn-eval     eval.py              fasterrcnn.cli.evaluate
    fasterrcnn-predict  predict.py           fasterrcnn.cli.predict
    fasterrcnn-convert                       fasterrcnn.cli.convert_data
    fasterrcnn-fetch                         fasterrcnn.cli.fetch
    fasterrcnn-compare  python -m fasterrcnn.interop.compare
    fasterrcnn-interop  python -m fasterrcnn.interop
    fasterrcnn-shapes   python -m fasterrcnn.data.shapes
    fasterrcnn-demo     python -m fasterrcnn.demo

The commands of this package share :mod:`fasterrcnn.cli.common`: the
``--gpu`` / ``--no-progress`` flags (train and eval also ``--config`` /
``--set``), loading a model for inference, the GPU check, and one error
path (a one-line message, exit status 2).
"""
