"""What the detection data set readers share: the example, the boxes read
without the image, a check that decodes no image, and the clipping of a box
to its image.

An example is ``(img, bbox, label)``, or ``(img, bbox, label, difficult)``
with ``return_difficult``:

* ``img``: ``(3, H, W)`` float32 RGB in ``[0, 255]``;
* ``bbox``: ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)``, 0-based
  inclusive pixels (``(0, 4)`` when the image has no objects);
* ``label``: ``(R,)`` int32 in ``[0, len(label_names))``;
* ``difficult``: ``(R,)`` bool.

The VOC reader (:mod:`fasterrcnn.data.voc`) and the COCO reader
(:mod:`fasterrcnn.data.coco`) derive from :class:`DetectionDataset`.
"""

import chainer

from fasterrcnn.data.bad_examples import BadExampleError
from fasterrcnn.data.image import read_image, read_image_size


def clip(coords, img_size, path, where):
    """A box clipped to the pixels of its image, or an error for a box that
    keeps no extent inside it.

    Args:
        coords (sequence of float): the 4 numbers ``(y_min, x_min, y_max,
            x_max)`` of one box, 0-based inclusive pixels (``y_max`` the last
            row the object covers).
        img_size (tuple of int): ``(H, W)`` of the image.
        path (str): the annotation file, for the message.
        where (str): which object of it, for the message.

    Returns:
        list of float: ``[y_min, x_min, y_max, x_max]`` within rows ``0 ..
        H - 1`` and columns ``0 .. W - 1``.

    Raises:
        BadExampleError: the box lies wholly outside the image (or keeps
            only a line of it).
    """
    height, width = img_size
    limits = (height - 1, width - 1, height - 1, width - 1)
    clipped = [min(max(c, 0.), limit) for c, limit in zip(coords, limits)]
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        # The message counts pixels from 1, as VOC annotations do.
        raise BadExampleError(
            '{}: {} lies outside the {}x{} image (box {:g}, {:g}, {:g}, {:g} '
            'as ymin, xmin, ymax, xmax)'.format(
                path, where, width, height, *(c + 1 for c in coords)))
    return clipped


class DetectionDataset(chainer.dataset.DatasetMixin):
    """What the VOC and COCO readers share: examples ``(img, bbox, label)``
    (or ``(img, bbox, label, difficult)`` with ``return_difficult``), the
    boxes without the image, and a check that decodes no image.

    A reader sets ``ids``, ``use_difficult`` and ``return_difficult`` and
    defines :meth:`image_path` and :meth:`read_objects`.
    """

    def __len__(self):
        return len(self.ids)

    def image_path(self, i):
        """The image file of example ``i`` (an error naming it if absent)."""
        raise NotImplementedError

    def read_objects(self, i, img_size):
        """Every object of example ``i``: ``(bbox, label, difficult)`` as
        :meth:`get_annotation` returns them, difficult ones included."""
        raise NotImplementedError

    def get_annotation(self, i, img_size=None):
        """The boxes of example ``i`` without reading its image.

        Args:
            i (int): the example.
            img_size (tuple of int or None): ``(H, W)`` of its image, to
                check and clip the boxes against.

        Returns:
            tuple: ``(bbox, label, difficult)``, shapes ``(R, 4)`` float32
            ``(y_min, x_min, y_max, x_max)``, ``(R,)`` int32 and ``(R,)``
            bool, as in an example. Difficult objects are left out unless
            ``use_difficult``.

        Raises:
            BadExampleError: what is wrong (one line naming the file).
        """
        bbox, label, difficult = self.read_objects(i, img_size)
        if not self.use_difficult:
            keep = ~difficult
            bbox, label, difficult = bbox[keep], label[keep], difficult[keep]
        return bbox, label, difficult

    def check_example(self, i):
        """Check example ``i`` without decoding its image: the image header
        is read and the annotation checked against the image's size.

        Raises:
            BadExampleError: what is wrong (one line naming the file).
        """
        self.get_annotation(i, img_size=read_image_size(self.image_path(i)))

    def get_example(self, i):
        img = read_image(self.image_path(i))
        bbox, label, difficult = self.get_annotation(i, img.shape[1:])
        if self.return_difficult:
            return img, bbox, label, difficult
        return img, bbox, label
