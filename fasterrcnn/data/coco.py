"""COCO-format detection data: an instances JSON file and a folder of images.

The reader understands one COCO "instances" annotation file::

    {"images":      [{"id": 1, "file_name": "a.jpg", ...}, ...],
     "annotations": [{"id": 7, "image_id": 1, "category_id": 3,
                      "bbox": [x, y, width, height], "iscrowd": 0}, ...],
     "categories":  [{"id": 3, "name": "square"}, ...]}

and the images it names, ``data_dir/<file_name>``. With the official COCO
layout (``annotations/instances_<set>.json`` beside the folder ``<set>/``
of the images, and ``file_name`` without the folder) the images are looked
up in ``data_dir/<set>/`` when that folder exists.

Classes: the categories sorted by id give labels ``0, 1, ...`` (COCO's ids
have gaps: 1 .. 90 for 80 classes). Objects with ``iscrowd`` set are the
data set's difficult objects: left out of training unless
``use_difficult``, and ignored by the evaluation (neither a true nor a
false positive, see :mod:`fasterrcnn.evaluation.coco`).

Pixel conventions. The project's boxes, as the VOC reader gives them
(:mod:`fasterrcnn.data.voc`), are 0-based inclusive pixel indices: ``y_max``
/ ``x_max`` is the last row / column the object covers, and the VOC XML's
1-based ``xmin .. xmax`` become ``xmin - 1 .. xmax - 1``. A COCO box is
continuous: ``[x, y, width, height]`` with ``x`` the left edge (0 at the
image's left border), so an object covering columns ``c0 .. c1`` is ``x =
c0, width = c1 - c0 + 1``; this is how VOC data is usually written as COCO
(:func:`voc_to_coco` does so). This reader inverts it: ``(y_min, x_min,
y_max, x_max) = (y, x, y + height - 1, x + width - 1)``, so a COCO copy of
VOC data gives exactly the VOC reader's boxes, and
:mod:`fasterrcnn.evaluation.coco` writes predictions back the same way. A
box at most one pixel wide or tall has no extent in that convention and is
a bad example, as a zero-area VOC box is.

A malformed file (not JSON, a missing key, a value of the wrong type, an
unknown image or category id, a repeated id or file name) is a
:class:`COCOFormatError` when the data set is made; a bad box (not finite,
a width or height <= 1, wholly outside the image) or a category not among
the given ``label_names`` is a :class:`BadExampleError` of that image, so
that ``data.bad_examples`` applies. Each is one line naming the file.
"""

import json
import math
import os
import re
import xml.etree.ElementTree as ElementTree

import numpy

from fasterrcnn.data.bad_examples import (BadExampleError,
                                          MissingExampleFileError)
from fasterrcnn.data.dataset import DetectionDataset, clip
from fasterrcnn.data.image import read_image_size
from fasterrcnn.data.voc import parse_voc_xml

#: The official layout's annotation file name: ``instances_<set>.json``.
_OFFICIAL_NAME = re.compile(r'instances_(\w+)\.json$')


class COCOFormatError(ValueError):
    """An annotation file is not usable COCO instances JSON; the message is
    one line naming the file and what is wrong."""


def _fail(path, text, *args):
    raise COCOFormatError('{}: {}'.format(path, text.format(*args)))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _list_of_dicts(data, key, path, required=True):
    items = data.get(key)
    if items is None and not required:
        return []
    if not isinstance(items, list):
        _fail(path, '"{}" is {}; expected a list', key,
              'missing' if items is None else 'a ' + type(items).__name__)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            _fail(path, '{}[{}] is a {}; expected an object', key, i,
                  type(item).__name__)
    return items


def _field(item, key, check, what, path, where):
    if key not in item:
        _fail(path, '{} has no "{}"', where, key)
    value = item[key]
    if not check(value):
        _fail(path, '{} has "{}": {}; expected {}', where, key,
              json.dumps(value)[:40], what)
    return value


def _ids_and_names(entries, section, kind, name_key, name_label, path,
                   ids):
    """``(where, id, name)`` of each entry of ``section`` after checking
    that it has an integer ``id`` and a non-empty string ``name_key``, both
    unique in the section (a one-line COCOFormatError otherwise); the ids
    are added to ``ids``."""
    names = set()
    for i, entry in enumerate(entries):
        where = '{}[{}]'.format(section, i)
        entry_id = _field(entry, 'id', _is_int, 'an integer', path, where)
        name = _field(entry, name_key,
                      lambda v: isinstance(v, str) and v.strip(),
                      'a ' + name_label, path, where)
        if entry_id in ids:
            _fail(path, '{} repeats {} id {}', where, kind, entry_id)
        if name in names:
            _fail(path, '{} repeats {} {!r}', where, name_label, name)
        ids.add(entry_id)
        names.add(name)
        yield where, entry_id, name


def load_coco_json(path):
    """Read and check a COCO instances file.

    Args:
        path (str): the JSON file.

    Returns:
        tuple: ``(images, annotations, categories)``: the lists of the file,
        checked for the keys and types this package uses, categories sorted
        by id; each annotation's ``bbox`` is not checked here (see
        :class:`COCOBboxDataset`).

    Raises:
        FileNotFoundError: no such file.
        COCOFormatError: the file is not such JSON (one line naming it).
    """
    try:
        with open(path, 'rb') as f:
            data = json.loads(f.read().decode('utf-8'))
    except FileNotFoundError:
        raise FileNotFoundError(
            'annotation file {} not found'.format(path)) from None
    except UnicodeDecodeError as e:
        _fail(path, 'not UTF-8 text ({})', e.reason)
    except json.JSONDecodeError as e:
        _fail(path, 'not valid JSON: {} at line {} column {}', e.msg, e.lineno,
              e.colno)
    except RecursionError:
        _fail(path, 'not usable JSON: nested too deeply')
    if not isinstance(data, dict):
        _fail(path, 'the top level is a {}; expected an object with '
              '"images", "annotations" and "categories"', type(data).__name__)

    images = _list_of_dicts(data, 'images', path)
    image_ids = set()
    for where, _, name in _ids_and_names(images, 'images', 'image',
                                         'file_name', 'file name', path,
                                         image_ids):
        if os.path.isabs(name) or '..' in name.replace('\\', '/').split('/'):
            # The images must lie under data.dir: a file name must not
            # point anywhere else on the machine.
            _fail(path, '{} has file name {!r}; expected a path inside the '
                  'image folder', where, name)
    categories = _list_of_dicts(data, 'categories', path)
    category_ids = set()
    for _ in _ids_and_names(categories, 'categories', 'category', 'name',
                            'category name', path, category_ids):
        pass
    if not categories:
        _fail(path, '"categories" is empty; list the classes as '
              '{{"id": ..., "name": ...}}')

    annotations = _list_of_dicts(data, 'annotations', path, required=False)
    for i, ann in enumerate(annotations):
        where = 'annotations[{}]'.format(i)
        image_id = _field(ann, 'image_id', _is_int, 'an integer', path,
                          where)
        if image_id not in image_ids:
            _fail(path, '{} has image_id {}, which no entry of "images" has',
                  where, image_id)
        category_id = _field(ann, 'category_id', _is_int, 'an integer', path,
                             where)
        if category_id not in category_ids:
            _fail(path, '{} has category_id {}, which is not in '
                  '"categories"', where, category_id)
        _field(ann, 'bbox', lambda v: isinstance(v, list) and len(v) == 4
               and all(_is_number(c) for c in v),
               'a list of 4 numbers [x, y, width, height]', path, where)
        if 'iscrowd' in ann and ann['iscrowd'] not in (0, 1):
            _fail(path, '{} has "iscrowd": {}; expected 0 or 1', where,
                  json.dumps(ann['iscrowd'])[:40])
    categories = sorted(categories, key=lambda c: c['id'])
    return images, annotations, categories


def _image_ids(file_names):
    """The names of the images in messages and drawings: without folder
    and extension where that keeps them apart."""
    ids = [os.path.splitext(os.path.basename(name))[0]
           for name in file_names]
    if len(set(ids)) < len(ids):
        ids = [os.path.splitext(name)[0] for name in file_names]
    return ids


def _image_dir(data_dir, annotations):
    """Where the images of ``annotations`` are: ``data_dir/<set>`` for the
    official layout's ``instances_<set>.json`` when that folder exists,
    else ``data_dir``."""
    match = _OFFICIAL_NAME.search(os.path.basename(annotations))
    if match and os.path.isdir(os.path.join(data_dir, match.group(1))):
        return os.path.join(data_dir, match.group(1))
    return data_dir


class COCOBboxDataset(DetectionDataset):
    """A COCO-format detection data set, read as :class:`~fasterrcnn.data.
    voc.VOCBboxDataset` reads VOC.

    Args:
        data_dir (str): the folder of the images (see the module's text for
            the official layout).
        annotations (str): the instances JSON file.
        use_difficult (bool): keep crowd objects (dropped otherwise, as for
            training).
        return_difficult (bool): add the difficult (crowd) flags to each
            example.
        label_names (sequence of str): class names; an object's label is the
            index of its category's name here. None: the categories' names
            in category-id order.

    Attributes:
        ids (list of str): each image's file name without its folder and
            extension (the whole ``file_name`` without its extension when
            two images would share one), in the file's order of
            ``images``.
        label_names (tuple of str): the class names in use.
        split (str): the annotation file's name without ``.json``, to name
            examples in messages.

    Each example is ``(img, bbox, label)``, or ``(img, bbox, label,
    difficult)`` with ``return_difficult``:
        img: ``(3, H, W)`` float32 RGB in ``[0, 255]``;
        bbox: ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)``, 0-based
            inclusive pixels (``(0, 4)`` when the image has no objects);
        label: ``(R,)`` int32 in ``[0, len(label_names))``;
        difficult: ``(R,)`` bool, the ``iscrowd`` flags.

    Raises:
        FileNotFoundError: the annotation file does not exist.
        COCOFormatError: it is malformed (one line naming it).
    """

    def __init__(self, data_dir, annotations, use_difficult=False,
                 return_difficult=False, label_names=None):
        self.data_dir = data_dir
        self.annotations = annotations
        self.use_difficult = use_difficult
        self.return_difficult = return_difficult
        self.split = os.path.splitext(os.path.basename(annotations))[0]
        self.image_dir = _image_dir(data_dir, annotations)
        images, anns, categories = load_coco_json(annotations)
        if label_names is None:
            label_names = [c['name'] for c in categories]
        self.label_names = tuple(label_names)
        self._category_names = {c['id']: c['name'] for c in categories}
        self._file_names = [image['file_name'] for image in images]
        self.ids = _image_ids(self._file_names)
        index = {image['id']: i for i, image in enumerate(images)}
        # Each image's annotations, in file order.
        self._objects = [[] for _ in images]
        for ann in anns:
            self._objects[index[ann['image_id']]].append(ann)

    def image_path(self, i):
        path = os.path.join(self.image_dir, self._file_names[i])
        if not os.path.isfile(path):
            raise MissingExampleFileError(
                '{} not found: file_name {!r} is listed in {} but there is '
                'no such file in {}; restore the file or remove the image '
                'from the annotations'.format(
                    path, self._file_names[i], self.annotations,
                    self.image_dir))
        return path

    def read_objects(self, i, img_size):
        """Every object of example ``i`` (crowd ones included), as
        :meth:`get_annotation` returns them. ``img_size``: boxes crossing
        the image's border are clipped to it, one wholly outside it is an
        error.

        Raises:
            BadExampleError: a box that is not finite, at most one pixel
                wide or tall, or outside the image, or a category not among
                ``label_names`` (one line naming the file, the annotation
                and the image).
        """
        index = {name: lab for lab, name in enumerate(self.label_names)}
        bbox, label, difficult = [], [], []
        for ann in self._objects[i]:
            name = self._category_names[ann['category_id']]
            where = 'annotation {} ({!r}) of {}'.format(
                ann.get('id', '?'), name, self._file_names[i])
            if name not in index:
                raise BadExampleError(
                    '{}: {} has a category that is not among the {} label '
                    'names ({}); give the names as data.label_names or fix '
                    'the category'.format(
                        self.annotations, where, len(self.label_names),
                        ', '.join(self.label_names)))
            x, y, width, height = (float(c) for c in ann['bbox'])
            if not all(math.isfinite(c) for c in (x, y, width, height)):
                raise BadExampleError('{}: {} has bbox {}, not finite'.format(
                    self.annotations, where, ann['bbox']))
            if width <= 1 or height <= 1:
                # A width of 1 is one column: x_min == x_max, no extent
                # (the box targets would be log(0)); below it, inverted.
                raise BadExampleError(
                    '{}: {} has bbox width {:g} and height {:g}; both must '
                    'be more than 1 pixel'.format(
                        self.annotations, where, width, height))
            coords = [y, x, y + height - 1, x + width - 1]
            if img_size is not None:
                coords = clip(coords, img_size, self.annotations, where)
            bbox.append(coords)
            label.append(index[name])
            difficult.append(bool(ann.get('iscrowd', 0)))
        bbox = numpy.array(bbox, dtype=numpy.float32).reshape(-1, 4)
        label = numpy.array(label, dtype=numpy.int32)
        difficult = numpy.array(difficult, dtype=bool)
        return bbox, label, difficult


def voc_to_coco(data_dir, split, label_names=None):
    """A VOC-layout split as COCO instances data (a dict for ``json.dump``).

    The objects are read as the VOC reader reads them (0-based inclusive
    ``(y_min, x_min, y_max, x_max)``) and written as ``[x_min, y_min, x_max
    - x_min + 1, y_max - y_min + 1]``, so that :class:`COCOBboxDataset`
    gives the same boxes back; difficult objects become ``iscrowd: 1``.
    Image ids count from 1 in split order; ``file_name`` is
    ``JPEGImages/<id>.jpg``, so ``data_dir`` is the COCO copy's image folder
    as well; category ids are ``label + 1``.

    Args:
        data_dir (str): the VOC-layout folder.
        split (str): the split, ``ImageSets/Main/<split>.txt``.
        label_names (sequence of str or None): as for ``VOCBboxDataset``.

    Returns:
        dict: ``images``, ``annotations`` and ``categories``.
    """
    from fasterrcnn.data.voc import VOCBboxDataset
    voc = VOCBboxDataset(data_dir, split, use_difficult=True,
                         label_names=label_names)
    images, annotations = [], []
    for i, image_id in enumerate(voc.ids):
        xml_path = os.path.join(data_dir, 'Annotations', image_id + '.xml')
        size = ElementTree.parse(xml_path).getroot().find('size')
        if size is not None and size.find('width') is not None:
            width = int(size.find('width').text)
            height = int(size.find('height').text)
        else:
            height, width = read_image_size(
                os.path.join(data_dir, 'JPEGImages', image_id + '.jpg'))
        images.append({'id': i + 1, 'file_name':
                       'JPEGImages/{}.jpg'.format(image_id),
                       'width': width, 'height': height})
        bbox, label, difficult = parse_voc_xml(xml_path, voc.label_names)
        for box, lab, diff in zip(bbox.tolist(), label.tolist(),
                                  difficult.tolist()):
            y_min, x_min, y_max, x_max = box
            w, h = x_max - x_min + 1, y_max - y_min + 1
            annotations.append({
                'id': len(annotations) + 1, 'image_id': i + 1,
                'category_id': lab + 1, 'bbox': [x_min, y_min, w, h],
                'area': w * h, 'iscrowd': int(diff)})
    categories = [{'id': lab + 1, 'name': name}
                  for lab, name in enumerate(voc.label_names)]
    return {'images': images, 'annotations': annotations,
            'categories': categories}
