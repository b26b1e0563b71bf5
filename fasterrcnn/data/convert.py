"""Converting a data set between the VOC layout and COCO instances JSON.

:func:`~fasterrcnn.data.coco.voc_to_coco` turns a VOC split into COCO
data; :func:`coco_to_voc` writes a COCO-format set in the VOC layout. Both
keep what the readers give back: the same boxes (0-based inclusive
``(y_min, x_min, y_max, x_max)``), labels and difficult (crowd) flags, so
that a set converted one way and back reads as it did.
"""

import os
import shutil
import xml.etree.ElementTree as ElementTree

from fasterrcnn.atomic import atomic_write
from fasterrcnn.data.coco import COCOBboxDataset
from fasterrcnn.data.voc import LABELS_FILE


def _voc_xml(image_id, size, objects, label_names):
    """The VOC annotation of one image as an XML tree."""
    root = ElementTree.Element('annotation')
    ElementTree.SubElement(root, 'filename').text = image_id + '.jpg'
    size_element = ElementTree.SubElement(root, 'size')
    for tag, value in zip(('height', 'width', 'depth'), size + (3,)):
        ElementTree.SubElement(size_element, tag).text = str(value)
    bbox, label, difficult = objects
    for box, lab, diff in zip(bbox.tolist(), label.tolist(),
                              difficult.tolist()):
        obj = ElementTree.SubElement(root, 'object')
        ElementTree.SubElement(obj, 'name').text = label_names[lab]
        ElementTree.SubElement(obj, 'difficult').text = str(int(diff))
        box_element = ElementTree.SubElement(obj, 'bndbox')
        # VOC counts pixels from 1; %r keeps every float digit.
        for tag, value in zip(('ymin', 'xmin', 'ymax', 'xmax'), box):
            ElementTree.SubElement(box_element, tag).text = repr(value + 1)
    ElementTree.indent(root)
    return ElementTree.ElementTree(root)


def coco_to_voc(data_dir, annotations, out, split, progress=None):
    """Writes a COCO-format set in the VOC layout under ``out``.

    ``out/JPEGImages/<id>.jpg`` (JPEG files copied as they are, others
    re-encoded as JPEG at quality 95: the VOC reader reads ``.jpg`` files),
    ``out/Annotations/<id>.xml`` (crowd objects as difficult),
    ``out/ImageSets/Main/<split>.txt`` and ``out/labels.txt`` (the class
    names in label order). Every file is written atomically. Two splits of
    one set can be converted into one folder one after the other; a
    ``labels.txt`` there with other names is an error.

    Args:
        data_dir (str): the COCO set's image folder.
        annotations (str): its instances JSON file.
        out (str): the VOC-layout folder to write.
        split (str): the split's name.
        progress (callable or None): called once per image written.

    Returns:
        int: the number of images written.
    """
    from PIL import Image
    coco = COCOBboxDataset(data_dir, annotations, use_difficult=True)
    names = list(coco.label_names)
    for folder in ('JPEGImages', 'Annotations', os.path.join('ImageSets',
                                                             'Main')):
        os.makedirs(os.path.join(out, folder), exist_ok=True)
    _write_labels(os.path.join(out, LABELS_FILE), names)
    for i, image_id in enumerate(coco.ids):
        source = coco.image_path(i)
        target = os.path.join(out, 'JPEGImages', image_id + '.jpg')
        with Image.open(source) as image:
            size = (image.height, image.width)
            is_jpeg = image.format == 'JPEG'
            with atomic_write(target) as f:
                if is_jpeg:
                    with open(source, 'rb') as src:
                        shutil.copyfileobj(src, f)
                else:
                    image.convert('RGB').save(f, format='JPEG', quality=95)
        tree = _voc_xml(image_id, size, coco.read_objects(i, size), names)
        with atomic_write(os.path.join(out, 'Annotations',
                                       image_id + '.xml')) as f:
            tree.write(f, encoding='utf-8', xml_declaration=False)
        if progress is not None:
            progress()
    with atomic_write(os.path.join(out, 'ImageSets', 'Main',
                                   split + '.txt'), binary=False) as f:
        f.write(''.join(image_id + '\n' for image_id in coco.ids))
    return len(coco.ids)


def _write_labels(path, names):
    """``labels.txt``: the names, one a line; the same file may be there
    already (another split of the same set), another is an error."""
    text = ''.join(name + '\n' for name in names)
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            if f.read() != text:
                raise ValueError(
                    '{} lists other class names than {}; convert into '
                    'another folder'.format(path, ', '.join(names)))
        return
    with atomic_write(path, binary=False) as f:
        f.write(text)
