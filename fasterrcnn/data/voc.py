"""PASCAL VOC detection data: the class names and a data set reader.

The reader understands the VOCdevkit layout of one year's folder::

    data_dir/
      Annotations/<id>.xml        one annotation per image
      JPEGImages/<id>.jpg         the image
      ImageSets/Main/<split>.txt  the ids of a split, one per line
      labels.txt                  (optional) class names, one per line

Boxes come out as float32 ``(y_min, x_min, y_max, x_max)``: the XML's 1-based
pixel indices minus 1, so 0-based. As in VOC, ``y_max`` / ``x_max`` are the
index of the last row / column that the object covers.
"""

import contextlib
import os
import xml.etree.ElementTree as ElementTree

import chainer
import numpy
from PIL import Image

from fasterrcnn.data.bad_examples import (BadExampleError,
                                          MissingExampleFileError, one_line)

#: The 20 PASCAL VOC classes in their standard order (label 0 .. 19).
VOC_BBOX_LABEL_NAMES = (
    'aeroplane',
    'bicycle',
    'bird',
    'boat',
    'bottle',
    'bus',
    'car',
    'cat',
    'chair',
    'cow',
    'diningtable',
    'dog',
    'horse',
    'motorbike',
    'person',
    'pottedplant',
    'sheep',
    'sofa',
    'train',
    'tvmonitor',
)

LABELS_FILE = 'labels.txt'
#: :attr:`VOCBboxDataset.label_names_source` when the names were given.
LABELS_GIVEN = 'given'
#: ... when there was neither names given nor a labels.txt.
LABELS_VOC_ASSUMED = 'voc-assumed'


def read_label_names(path):
    """Class names from a text file, one per line (blank lines skipped).

    Returns:
        tuple of str: the names; label ``i`` is the ``i``-th name.
    """
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f]
    names = tuple(name for name in names if name)
    if not names:
        raise ValueError('{}: no class names in it; write one name per '
                         'line'.format(path))
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError('{}: class name {!r} appears twice; each name '
                             'must be listed once'.format(path, name))
        seen.add(name)
    return names


def _text(element, tag, path, where):
    """Stripped text of the child ``tag`` of ``element``; an error if none."""
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise BadExampleError(
            '{}: {} has no <{}>; every object needs <name> and <bndbox> with '
            '<xmin>, <ymin>, <xmax>, <ymax>'.format(path, where, tag))
    return child.text.strip()


def _flag(element, tag, path, where):
    """An optional 0/1 flag such as <difficult>; missing or empty means 0."""
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        return False
    try:
        return bool(int(float(child.text.strip())))
    except ValueError:
        raise BadExampleError(
            '{}: {} has <{}>{}</{}>; expected 0 or 1'.format(
                path, where, tag, child.text.strip(), tag)) from None


def parse_voc_xml(path, label_names, lowercase=False, img_size=None):
    """Objects of one VOC annotation file.

    Args:
        path (str): the XML file.
        label_names (sequence of str): class names; an object's label is the
            index of its ``<name>`` (surrounding white space stripped) here.
        lowercase (bool): lowercase each ``<name>`` before looking it up.
        img_size (tuple of int or None): ``(H, W)`` of the image: a box that
            crosses its border is clipped to it (to rows ``0 .. H - 1`` and
            columns ``0 .. W - 1``), one wholly outside it is an error.

    Returns:
        tuple: ``(bbox, label, difficult)``:
        ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)`` 0-based pixels,
        ``(R,)`` int32 labels, ``(R,)`` bool difficult flags, for all ``R``
        objects in file order.

    Raises:
        BadExampleError: the file is missing or malformed, or an object has
            no name or box, an unknown name, a coordinate that is not a
            finite number, an inverted or zero-area box, or (with
            ``img_size``) a box wholly outside the image; one line naming
            the file and the object.
    """
    index = {name: i for i, name in enumerate(label_names)}
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as e:
        raise BadExampleError('{}: not well-formed XML ({}); fix or '
                              'regenerate the annotation'.format(path, e)) \
            from None
    bbox, label, difficult = [], [], []
    for i, obj in enumerate(root.findall('object')):
        name = _text(obj, 'name', path, 'object {}'.format(i))
        if lowercase:
            name = name.lower()
        where = 'object {} ({!r})'.format(i, name)
        if name not in index:
            raise BadExampleError(
                '{}: {} has a class name that is not among the {} label '
                'names ({}); add it to {} in the data directory (or to '
                'data.label_names), or fix the name'.format(
                    path, where, len(label_names), ', '.join(label_names),
                    LABELS_FILE))
        box = obj.find('bndbox')
        if box is None:
            raise BadExampleError('{}: {} has no <bndbox>'.format(path, where))
        coords = []
        for tag in ('ymin', 'xmin', 'ymax', 'xmax'):
            text = _text(box, tag, path, where)
            try:
                value = float(text)
            except ValueError:
                raise BadExampleError(
                    '{}: {} has <{}>{}</{}>, not a number'.format(
                        path, where, tag, text, tag)) from None
            if not numpy.isfinite(value):
                raise BadExampleError(
                    '{}: {} has <{}>{}</{}>, not finite'.format(
                        path, where, tag, text, tag))
            # VOC counts pixels from 1.
            coords.append(value - 1)
        if coords[2] < coords[0] or coords[3] < coords[1]:
            raise BadExampleError('{}: {} has ymax < ymin or xmax < xmin'
                                  .format(path, where))
        if coords[2] == coords[0] or coords[3] == coords[1]:
            # No extent: its box targets would be log(0) (Faster R-CNN's
            # box coding, eq. 2), so it can teach nothing.
            raise BadExampleError('{}: {} has zero area (ymin == ymax or '
                                  'xmin == xmax)'.format(path, where))
        if img_size is not None:
            coords = _clip(coords, img_size, path, where)
        bbox.append(coords)
        label.append(index[name])
        difficult.append(_flag(obj, 'difficult', path, where))
    bbox = numpy.array(bbox, dtype=numpy.float32).reshape(-1, 4)
    label = numpy.array(label, dtype=numpy.int32)
    difficult = numpy.array(difficult, dtype=bool)
    return bbox, label, difficult


def _clip(coords, img_size, path, where):
    """``[y_min, x_min, y_max, x_max]`` clipped to the image's pixels, or a
    BadExampleError for a box that keeps no extent inside it."""
    height, width = img_size
    limits = (height - 1, width - 1, height - 1, width - 1)
    clipped = [min(max(c, 0.), limit) for c, limit in zip(coords, limits)]
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        raise BadExampleError(
            '{}: {} lies outside the {}x{} image (box {:g}, {:g}, {:g}, {:g} '
            'as ymin, xmin, ymax, xmax)'.format(
                path, where, width, height, *(c + 1 for c in coords)))
    return clipped


def read_image(path):
    """An image file as float32 ``(3, H, W)`` RGB in ``[0, 255]``.

    Raises:
        BadExampleError: the file is missing, empty, not an image, or
            truncated (one line naming it).
    """
    with _image_errors(path), Image.open(path) as f:
        img = numpy.asarray(f.convert('RGB'), dtype=numpy.float32)
    return img.transpose(2, 0, 1).copy()


def read_image_size(path):
    """``(H, W)`` of an image from its header, without decoding it.

    Raises:
        BadExampleError: as :func:`read_image`, for what the header shows.
    """
    with _image_errors(path), Image.open(path) as f:
        width, height = f.size
    return height, width


@contextlib.contextmanager
def _image_errors(path):
    """Pillow's errors on ``path`` as one-line BadExampleErrors that name
    it (Pillow says "truncated", "cannot identify" ... without the path)."""
    try:
        yield
    except FileNotFoundError:
        raise MissingExampleFileError('{} not found'.format(path)) from None
    except (OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as e:
        # (a decompression bomb: an image claiming more pixels than
        # Pillow's limit, refused before it is decoded)
        raise BadExampleError('{}: {}{}'.format(
            path, _image_problem(path), one_line(e))) from None


def _image_problem(path):
    """What to say first about an image Pillow cannot read."""
    try:
        if os.path.getsize(path) == 0:
            return 'empty file: '
    except OSError:
        pass
    return 'not a readable image: '


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


class VOCBboxDataset(DetectionDataset):
    """A VOC-layout detection data set.

    Args:
        data_dir (str): the folder holding ``Annotations``, ``JPEGImages``
            and ``ImageSets/Main`` (e.g. ``VOCdevkit/VOC2007``).
        split (str): which ``ImageSets/Main/<split>.txt`` lists the images.
        use_difficult (bool): keep objects marked difficult (dropped
            otherwise, as for training).
        return_difficult (bool): add the difficult flags to each example.
        label_names (sequence of str): class names; None means the names in
            ``data_dir/labels.txt`` when that file exists, else
            :data:`VOC_BBOX_LABEL_NAMES`.

    Attributes:
        ids (list of str): the image ids of the split, in file order.
        label_names (tuple of str): the class names in use.
        label_names_source (str): where they came from:
            :data:`LABELS_GIVEN` (the ``label_names`` argument),
            :data:`LABELS_FILE` (``data_dir/labels.txt``) or
            :data:`LABELS_VOC_ASSUMED` (neither: the VOC names assumed).

    Each example is ``(img, bbox, label)``, or ``(img, bbox, label,
    difficult)`` with ``return_difficult``:
        img: ``(3, H, W)`` float32 RGB in ``[0, 255]``;
        bbox: ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)``, 0-based
            pixels (``(0, 4)`` when the image has no objects);
        label: ``(R,)`` int32 in ``[0, len(label_names))``;
        difficult: ``(R,)`` bool.
    """

    def __init__(self, data_dir, split='trainval', use_difficult=False,
                 return_difficult=False, label_names=None):
        self.data_dir = data_dir
        self.split = split
        self.use_difficult = use_difficult
        self.return_difficult = return_difficult
        # Where the names came from, so that a run can say when the VOC
        # names were assumed (class names that happen to be VOC names
        # would otherwise train a 20-class model without a word).
        self.label_names_source = LABELS_GIVEN
        if label_names is None:
            labels_path = os.path.join(data_dir, LABELS_FILE)
            if os.path.isfile(labels_path):
                label_names = read_label_names(labels_path)
                self.label_names_source = LABELS_FILE
            else:
                label_names = VOC_BBOX_LABEL_NAMES
                self.label_names_source = LABELS_VOC_ASSUMED
        self.label_names = tuple(label_names)
        self.ids = self._read_ids(split)

    def _read_ids(self, split):
        split_dir = os.path.join(self.data_dir, 'ImageSets', 'Main')
        path = os.path.join(split_dir, split + '.txt')
        if not os.path.isfile(path):
            if os.path.isdir(split_dir):
                found = sorted(f[:-4] for f in os.listdir(split_dir)
                               if f.endswith('.txt'))
                hint = 'splits found there: {}'.format(
                    ', '.join(found) if found else 'none')
            else:
                hint = 'is data_dir the folder that holds ImageSets/?'
            raise FileNotFoundError(
                'split file {} not found ({})'.format(path, hint))
        with open(path, encoding='utf-8') as f:
            # VOC's per-class split files carry a second column (1 / -1);
            # the first word is the id either way.
            ids = [line.split()[0] for line in f if line.strip()]
        return ids

    #: Lowercase each object's ``<name>`` before looking it up.
    lowercase_names = False

    def _path(self, folder, i, ext):
        path = os.path.join(self.data_dir, folder, self.ids[i] + ext)
        if not os.path.isfile(path):
            raise MissingExampleFileError(
                '{} not found: image id {!r} is listed in the {!r} split but '
                'has no file in {}/; restore the file or remove the id from '
                'ImageSets/Main/{}.txt'.format(path, self.ids[i], self.split,
                                               folder, self.split))
        return path

    def image_path(self, i):
        return self._path('JPEGImages', i, '.jpg')

    def read_objects(self, i, img_size):
        """See :func:`parse_voc_xml` (``img_size`` clips the boxes)."""
        return parse_voc_xml(
            self._path('Annotations', i, '.xml'), self.label_names,
            lowercase=self.lowercase_names, img_size=img_size)
