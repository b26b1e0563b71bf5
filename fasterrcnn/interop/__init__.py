"""Parity tools, the top of the stack: golden files, the PyTorch version's
stage dumps, the tolerance table, ``fasterrcnn-compare`` and
``fasterrcnn-interop``. Nothing in the library imports this package; weight
I/O that training needs lives in :mod:`fasterrcnn.weights`."""
