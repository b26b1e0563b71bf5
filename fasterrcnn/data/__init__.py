"""Data: image files (``image.py``), the detection data set base
(``dataset.py``), the VOC and COCO readers (``voc.py``, ``coco.py``) and
opening a split of either (``datasets.py``), the synthetic shapes set, the
transforms, padded batches, bad examples, reading ahead on a thread, and the
start-up summaries.

Nothing is imported here, so that a module that needs one of them (the
model needs the transforms, ``fasterrcnn-predict`` the image reader) loads
no data set reader, and ``python -m fasterrcnn.data.shapes`` runs without a
double import.
"""
