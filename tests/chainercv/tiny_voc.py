"""A hand-written VOC folder of five small images for the sliceable and
evaluation tests.

Each image has its own size and flat colour, so that an image read back is
recognised. Boxes are written as VOC writes them, 1-based; ``BOXES`` has
them as the data set gives them (0-based ``(y_min, x_min, y_max,
x_max)``).
"""

import os

import numpy
from PIL import Image

from fasterrcnn.chainercv.datasets import voc_bbox_label_names

IDS = ('000005', '000007', '000009', '000012', '000016')
#: (H, W) of each image.
SIZES = ((20, 24), (22, 27), (24, 30), (26, 33), (28, 36))
#: Each image's objects: (name, difficult, (ymin, xmin, ymax, xmax) 1-based
#: as in the XML). Image 2's bird crosses the right border (W = 30).
OBJECTS = (
    (('cat', 0, (2, 3, 12, 15)), ('dog', 1, (5, 5, 18, 20))),
    (('car', 0, (1, 2, 20, 25)), ('person', 0, (4, 4, 10, 9))),
    (('bird', 0, (3, 10, 15, 34)),),
    (('bus', 0, (2, 2, 25, 30)),),
    (('cat', 0, (1, 1, 10, 10)), ('cat', 0, (12, 14, 27, 35)),
     ('dog', 1, (3, 3, 6, 6))),
)


def colour(i):
    """The flat RGB colour of image ``i``."""
    return (40 * i + 20, 200 - 30 * i, 100)


def write_voc_folder(data_dir, images, splits):
    """Write a VOCdevkit/VOC<year> folder.

    Args:
        data_dir (str): the folder.
        images: ``(image_id, size, rgb, objects)`` of each image: ``size``
            ``(H, W)``, ``rgb`` its flat colour, ``objects`` ``(name,
            difficult, (ymin, xmin, ymax, xmax))`` with the XML's 1-based
            numbers.
        splits (dict): split name to its list of image ids.
    """
    for folder in ('Annotations', 'JPEGImages', os.path.join('ImageSets',
                                                             'Main')):
        os.makedirs(os.path.join(data_dir, folder), exist_ok=True)
    for image_id, size, rgb, objects in images:
        pixels = numpy.empty(tuple(size) + (3,), dtype=numpy.uint8)
        # Flat colours survive JPEG almost exactly.
        pixels[:] = rgb
        Image.fromarray(pixels).save(
            os.path.join(data_dir, 'JPEGImages', image_id + '.jpg'),
            quality=100)
        parts = ['<annotation>']
        for name, difficult, (ymin, xmin, ymax, xmax) in objects:
            parts.append(
                '<object><name>{}</name><difficult>{}</difficult><bndbox>'
                '<xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax>'
                '</bndbox></object>'.format(name, difficult, xmin, ymin,
                                            xmax, ymax))
        parts.append('</annotation>')
        with open(os.path.join(data_dir, 'Annotations', image_id + '.xml'),
                  'w') as f:
            f.write(''.join(parts))
    for split, ids in splits.items():
        with open(os.path.join(data_dir, 'ImageSets', 'Main',
                               split + '.txt'), 'w') as f:
            f.write(''.join(image_id + '\n' for image_id in ids))
    return data_dir


def write_tiny_voc(data_dir, split='test'):
    """Write the five images, their annotations and ``split``'s id list
    into ``data_dir`` (a VOCdevkit/VOC<year> folder)."""
    return write_voc_folder(
        data_dir, [(image_id, size, colour(i), objects) for i, (
            image_id, size, objects) in enumerate(zip(IDS, SIZES, OBJECTS))],
        {split: IDS})


def annotation(i, use_difficult=False):
    """``(bbox, label, difficult)`` of image ``i`` as in the XML (boxes
    0-based, not clipped), difficult objects left out unless
    ``use_difficult``."""
    kept = [obj for obj in OBJECTS[i] if use_difficult or not obj[1]]
    bbox = numpy.array([[c - 1 for c in box] for _, _, box in kept],
                       dtype=numpy.float32).reshape(-1, 4)
    label = numpy.array([voc_bbox_label_names.index(name)
                         for name, _, _ in kept], dtype=numpy.int32)
    difficult = numpy.array([bool(d) for _, d, _ in kept], dtype=bool)
    return bbox, label, difficult
