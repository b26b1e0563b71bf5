"""Images of different sizes in one array: padding and the training batch.

A batch is padded at the bottom and the right with zeros to the largest
height and width, and each image's own size is kept beside it, so that the
model can treat every image as it would alone (the extractor zeroes each
layer outside an image's region; proposals and targets use its own anchors
and size).
"""

import numpy

from fasterrcnn.backend import get_array_module


def pad_images(imgs):
    """One zero-padded array of CHW images, and their sizes.

    Args:
        imgs (sequence of arrays): ``(C, H_i, W_i)`` images, same ``C`` and
            dtype, all NumPy or all CuPy.

    Returns:
        tuple: ``(N, C, max H_i, max W_i)`` array (image ``i`` in its
        top-left corner) and ``(N, 2)`` int32 NumPy ``(H_i, W_i)``.
    """
    if not imgs:
        raise ValueError('no image to batch')
    xp = get_array_module(imgs[0])
    sizes = numpy.array([img.shape[1:] for img in imgs], dtype=numpy.int32)
    height, width = sizes.max(axis=0)
    batch = xp.zeros((len(imgs), imgs[0].shape[0], int(height), int(width)),
                     dtype=imgs[0].dtype)
    for i, img in enumerate(imgs):
        batch[i, :, :img.shape[1], :img.shape[2]] = img
    return batch, sizes


def concat_detection_examples(batch, device=None):
    """The training converter: ``(img, bbox, label, scale[, key])``
    examples to the train chain's ``(imgs, bboxes, labels, scales, sizes[,
    keys])``.

    Args:
        batch (list of tuples): examples of the training transform: ``(3,
            H_i, W_i)`` float32 prepared image, ``(R_i, 4)`` float32 boxes
            ``(y_min, x_min, y_max, x_max)`` in its pixels, ``(R_i,)``
            int32 labels, the float resize factor.
        device: where the arrays go (a Chainer device or its specifier;
            None: the CPU).

    Returns:
        tuple: ``imgs`` ``(N, 3, H, W)`` padded, ``bboxes`` and ``labels``
        lists of per-image arrays, ``scales`` ``(N,)`` float32 and
        ``sizes`` ``(N, 2)`` int32 (on the host); and ``keys`` ``(N,)``
        int64 (host) when the examples carry a fifth entry, their number in
        the run's global order.
    """
    import chainer
    device = chainer.get_device(device if device is not None else -1)
    imgs, sizes = pad_images([numpy.asarray(example[0])
                              for example in batch])
    return (device.send(imgs),
            [device.send(numpy.asarray(example[1], numpy.float32))
             for example in batch],
            [device.send(numpy.asarray(example[2], numpy.int32))
             for example in batch],
            numpy.array([example[3] for example in batch], numpy.float32),
            sizes) + ((numpy.array([example[4] for example in batch],
                                   numpy.int64),)
                      if len(batch[0]) > 4 else ())
