"""Small images predicted side by side, each on a core of its own.

A small image's ``predict`` (the demo's 192 x 256) leaves much of a second
core idle: its matrix products are too small for the BLAS's threads to pay,
and the Python between the layers runs on one core. On 2 cores two such
images predicted at once, each on a core with the BLAS at one thread
(:func:`fasterrcnn.cpu_threads.run_side_by_side`), took 23 ms an image
where one at a time took 35 to 39 ms (the demo's model, 60 test images;
``bench/evaluate.py``, docs/performance.md). At VGG16's 600 x 800 the pair
measured 4 % faster for a third more memory (1588 -> 2110 MiB, a second
image's activations), so larger images keep to one at a time.

An image's detections do not depend on what runs beside it, or whether
anything does: a small image is always predicted on one core with the BLAS
at one thread, paired or alone (the last of an odd number). They may differ
from those of ``model.predict`` called alone in the last bits of a score,
as the BLAS rounds a product on one thread otherwise than on two.
``chainer.config.fasterrcnn_side_by_side = False`` predicts every image as
``model.predict`` alone does.
"""

import chainer
import numpy

from fasterrcnn.backend import with_caller_settings
from fasterrcnn.cpu_threads import run_side_by_side, side_by_side_pays
from fasterrcnn.data.transforms import scale_size

#: Prepared images of at most this many pixels (512 x 512) are predicted
#: side by side: between the demo's 49 K (1.5 times faster) and VGG16's
#: 480 K (1.04 times, for a third more memory).
SMALL_PIXELS = 1 << 18

#: ``predict``'s result for a chunk of no image.
_EMPTY = ([], [], [])


def enabled():
    """Whether small images are predicted side by side
    (``chainer.config.fasterrcnn_side_by_side``, True unless set)."""
    return bool(getattr(chainer.config, 'fasterrcnn_side_by_side', True))


def lanes(model):
    """How many chunks of images to predict at once: 2 on a 2-core CPU (the
    one measured) for a model on the CPU, else 1."""
    if not enabled() or getattr(model, 'xp', numpy) is not numpy:
        return 1
    return 2 if side_by_side_pays(2) else 1


def is_small(model, imgs):
    """Whether every image of ``imgs`` (``(3, H, W)`` arrays) is at most
    :data:`SMALL_PIXELS` once the model has resized it; False for a model
    without ``min_size`` and ``max_size`` (it resizes as it likes)."""
    min_size = getattr(model, 'min_size', None)
    max_size = getattr(model, 'max_size', None)
    if min_size is None or max_size is None or not imgs:
        return False
    for img in imgs:
        height, width = scale_size(img.shape[1:], min_size, max_size)[1]
        if height * width > SMALL_PIXELS:
            return False
    return True


def predict_chunks(model, chunks):
    """``model.predict`` of each chunk of images, the small ones side by
    side.

    Args:
        model: a detector on the CPU with ``predict(imgs)``, ``min_size``
            and ``max_size``.
        chunks (list of lists): at most :func:`lanes` lists of ``(3, H,
            W)`` float32 images, each one ``predict`` call.

    Returns:
        list: ``(bboxes, labels, scores)`` of each chunk, as ``predict``
        returns them (empty lists for an empty chunk).
    """
    results = [_EMPTY] * len(chunks)
    pays = lanes(model) > 1
    small = []
    for k, imgs in enumerate(chunks):
        if pays and is_small(model, imgs):
            small.append(k)
        elif imgs:
            results[k] = model.predict(imgs)
    if not small:
        return results
    # Alone, a small chunk still runs as a job, with the BLAS at one
    # thread: its detections are those it gets beside another.
    # A job on another thread sees the caller's Chainer settings.
    out = run_side_by_side(*(
        with_caller_settings(lambda imgs=chunks[k]: model.predict(imgs))
        for k in small))
    for k, result in zip(small, out):
        results[k] = result
    return results
