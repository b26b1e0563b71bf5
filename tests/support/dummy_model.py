"""The tiny Faster R-CNN every model test uses, and the one interface check.

``tiny_model`` keeps VGG16's structure and stride 16 with 4-8 channels a
block and a 16-wide fc6 / fc7, so that a forward pass takes milliseconds;
its weights come from a fixed seed. ``assert_is_detection_link`` is what
"a detector" means to the rest of the project (evaluation, the Trainer's
evaluator, predict): checked once, called by every model test.
"""

import numpy

from fasterrcnn.links import FasterRCNNVGG16

#: Constructor arguments of the tiny model (any of them can be overridden).
TINY = dict(extractor_channels=(4, 4, 8, 8, 8), fc_size=16, min_size=64,
            max_size=96)


#: The model keys of the tiny training runs (``--set`` items): the tiny
#: model's structure, with anchors of 16-64 px for the shapes fixture.
TINY_MODEL_KEYS = (
    'model.extractor_channels=[4, 4, 8, 8, 8]', 'model.fc_size=16',
    'model.min_size=64', 'model.max_size=80',
    'model.anchor_scales=[1, 2, 4]', 'model.freeze_conv12=false',
)


def tiny_overrides(iterations=6, snapshot_every=2, lr_shift_at=(4,),
                   eval_every=(6,)):
    """The ``--set`` items of a tiny training run: the one tiny config of
    the suite (:data:`TINY_MODEL_KEYS`, log every 2 iterations, rate
    0.01), with its schedule."""
    items = list(TINY_MODEL_KEYS) + [
        'train.iterations={}'.format(iterations),
        'train.snapshot_every={}'.format(snapshot_every),
        'train.log_every=2', 'train.lr=0.01',
        'eval.every={}'.format(list(eval_every))]
    if lr_shift_at:
        items.append('train.lr_shift_at={}'.format(list(lr_shift_at)))
    return items


def tiny_model(n_fg_class=3, seed=0, **overrides):
    """A FasterRCNNVGG16 of :data:`TINY` size, weights drawn from ``seed``.

    Args:
        n_fg_class (int): object classes.
        seed (int): the initialisers draw from numpy's global state, seeded
            with this first.
        overrides: constructor arguments replacing :data:`TINY`'s.
    """
    params = dict(TINY)
    params.update(overrides)
    numpy.random.seed(seed)
    return FasterRCNNVGG16(n_fg_class, **params)


def random_image(rng, h, w):
    """``(3, h, w)`` float32 RGB noise in ``[0, 255]``."""
    return rng.uniform(0, 255, (3, h, w)).astype(numpy.float32)


def assert_is_detection_link(model, n_fg_class, sizes=((50, 70), (120, 40)),
                             seed=0):
    """``model.predict`` behaves as a detector: one result per image; boxes
    ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)`` inside the original
    image, ordered corners; labels ``(R,)`` int32 in ``[0, n_fg_class)``;
    scores ``(R,)`` float32 in ``(0, 1]``. Sizes smaller than one stride
    are allowed: ``prepare`` resizes them.

    Args:
        model: has ``predict(imgs)``.
        n_fg_class (int): the number of object classes.
        sizes (sequence of (H, W)): the test images' sizes.
        seed (int): the images' noise.

    Returns:
        tuple: what ``predict`` returned, for further checks.
    """
    rng = numpy.random.RandomState(seed)
    imgs = [random_image(rng, h, w) for h, w in sizes]
    result = model.predict(imgs)
    bboxes, labels, scores = result
    assert len(bboxes) == len(labels) == len(scores) == len(imgs)
    for img, bbox, label, score in zip(imgs, bboxes, labels, scores):
        h, w = img.shape[1:]
        assert isinstance(bbox, numpy.ndarray), type(bbox)
        assert bbox.dtype == numpy.float32 and bbox.ndim == 2 and \
            bbox.shape[1] == 4, (bbox.dtype, bbox.shape)
        assert label.dtype == numpy.int32 and label.shape == (len(bbox),)
        assert score.dtype == numpy.float32 and score.shape == (len(bbox),)
        assert (bbox[:, 0::2] >= 0).all() and (bbox[:, 0::2] <= h).all()
        assert (bbox[:, 1::2] >= 0).all() and (bbox[:, 1::2] <= w).all()
        assert (bbox[:, :2] <= bbox[:, 2:]).all()
        assert ((label >= 0) & (label < n_fg_class)).all()
        assert ((score > 0) & (score <= 1)).all()
    return result
