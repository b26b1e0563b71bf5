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

import os
import xml.etree.ElementTree as ElementTree

import numpy

from fasterrcnn.data.bad_examples import (BadExampleError,
                                          MissingExampleFileError)
from fasterrcnn.data.dataset import DetectionDataset, clip

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
            coords = clip(coords, img_size, path, where)
        bbox.append(coords)
        label.append(index[name])
        difficult.append(_flag(obj, 'difficult', path, where))
    bbox = numpy.array(bbox, dtype=numpy.float32).reshape(-1, 4)
    label = numpy.array(label, dtype=numpy.int32)
    difficult = numpy.array(difficult, dtype=bool)
    return bbox, label, difficult


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
