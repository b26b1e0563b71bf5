"""A synthetic detection data set in the VOC layout: circles, squares and
triangles on a textured background.

Small enough for a stride-16 detector to learn on a CPU in minutes, and read
by :class:`fasterrcnn.data.voc.VOCBboxDataset` like any VOC folder::

    python -m fasterrcnn.data.shapes --out DIR --n-train 800 --n-test 200 \\
        --seed 0 [--size 192 256]

writes ``DIR/JPEGImages/<id>.jpg``, ``DIR/Annotations/<id>.xml`` (1-based
pixel indices, as VOC), ``DIR/ImageSets/Main/{trainval,test}.txt`` and
``DIR/labels.txt``. The same arguments give the same bytes in every file: all
randomness comes from one ``numpy.random.RandomState(seed)``, the JPEG
settings are fixed and nothing records a time.

Each object's box is the tight box of the pixels it was drawn on, as 0-based
``(y_min, x_min, y_max, x_max)`` with ``y_max`` / ``x_max`` the last row /
column covered (the VOC meaning). Objects may overlap, but every object keeps
at least :data:`MIN_VISIBLE` of its pixels visible.
"""

import argparse
import os
import sys

import numpy
from PIL import Image

from fasterrcnn.data.transforms import resize
from fasterrcnn.progress import Progress

#: Class names; label ``i`` is ``LABEL_NAMES[i]``.
LABEL_NAMES = ('circle', 'square', 'triangle')
#: Default image size ``(H, W)``.
DEFAULT_SIZE = (192, 256)
#: Fewest and most objects per image (both inclusive).
DEFAULT_N_OBJECTS = (1, 4)
#: Smallest and largest side of an object's box in pixels (inclusive).
DEFAULT_OBJECT_SIZE = (32, 96)
#: The part of an object that later objects may not hide.
MIN_VISIBLE = 0.5
JPEG_QUALITY = 90

# How often to try placing one object before giving up on it (the image then
# has fewer objects), and how often to draw a colour before taking the one
# that contrasts most.
_PLACE_TRIES = 30
_COLOR_TRIES = 8
# An object's colour must differ from the mean background under it by at
# least this much (Euclidean RGB distance), so it is never camouflaged.
_MIN_CONTRAST = 100.0


def _background(rng, size):
    """Low-frequency colour noise plus one set of stripes.

    Returns:
        numpy.ndarray: ``(3, H, W)`` float32 in about ``[0, 255]``.
    """
    height, width = size
    # A coarse random grid, bilinearly upsampled: smooth colour blotches.
    grid_h = rng.randint(3, 8)
    grid_w = rng.randint(3, 8)
    grid = rng.uniform(30, 225, size=(3, grid_h, grid_w)).astype(
        numpy.float32)
    img = resize(grid, (height, width))
    # Straight stripes of a random direction, period and colour, so that the
    # background has edges too and "an edge" alone does not mean "object".
    theta = rng.uniform(0, numpy.pi)
    period = rng.uniform(6, 40)
    phase = rng.uniform(0, 2 * numpy.pi)
    amplitude = rng.uniform(5, 30)
    tint = rng.uniform(-1, 1, size=3).astype(numpy.float32)
    y = numpy.arange(height, dtype=numpy.float32)[:, None]
    x = numpy.arange(width, dtype=numpy.float32)[None, :]
    wave = numpy.sin((y * numpy.sin(theta) + x * numpy.cos(theta))
                     * (2 * numpy.pi / period) + phase).astype(numpy.float32)
    img += (amplitude * tint)[:, None, None] * wave[None]
    return img


def _shape_mask(rng, kind, box_h, box_w):
    """The pixels of one shape inside its ``(box_h, box_w)`` window.

    Pixel ``(r, c)`` is tested at its centre. The formulas put at least one
    pixel in every row and column of the window, but the caller still takes
    the tight box of the mask, so the box never depends on that.

    Returns:
        numpy.ndarray: ``(box_h, box_w)`` bool.
    """
    if kind == 'square':
        return numpy.ones((box_h, box_w), dtype=bool)
    if kind == 'circle':
        side = box_h  # circles get a square window
        r = numpy.arange(side, dtype=numpy.float64) - (side - 1) / 2
        return r[:, None] ** 2 + r[None, :] ** 2 <= (side / 2) ** 2
    if kind == 'triangle':
        # An isosceles triangle pointing up, drawn in a window whose height
        # is along the triangle's axis, then turned to one of 4 directions.
        turns = rng.randint(4)
        along, across = (box_h, box_w) if turns % 2 == 0 else (box_w, box_h)
        v = numpy.arange(along, dtype=numpy.float64)[:, None]
        u = numpy.abs(numpy.arange(across, dtype=numpy.float64)[None, :]
                      - (across - 1) / 2)
        # Half-width grows linearly from the apex row to across / 2 at the
        # base row; at least half a pixel, so the apex row is never empty.
        half = numpy.maximum((v + 1) / along * (across / 2), 0.5)
        return numpy.rot90(u <= half, turns)
    raise ValueError('unknown shape {!r}'.format(kind))


def _pick_color(rng, mean_bg):
    """A random RGB colour that stands out against ``mean_bg`` ``(3,)``."""
    best, best_dist = None, -1.0
    for _ in range(_COLOR_TRIES):
        color = rng.uniform(0, 255, size=3)
        dist = float(numpy.sqrt(((color - mean_bg) ** 2).sum()))
        if dist >= _MIN_CONTRAST:
            return color
        if dist > best_dist:
            best, best_dist = color, dist
    return best


def render_example(rng, size=DEFAULT_SIZE, n_objects=DEFAULT_N_OBJECTS,
                   object_size=DEFAULT_OBJECT_SIZE):
    """Draw one image and its objects.

    Args:
        rng (numpy.random.RandomState): all randomness comes from it.
        size (tuple of int): ``(H, W)`` of the image.
        n_objects (tuple of int): fewest and most objects (inclusive).
        object_size (tuple of int): smallest and largest side of a box
            (inclusive); capped at the image size.

    Returns:
        dict with
        ``img``: ``(H, W, 3)`` uint8 RGB (HWC, as PIL wants it);
        ``bbox``: ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)``,
        0-based, max = last covered row / column;
        ``label``: ``(R,)`` int32 index into :data:`LABEL_NAMES`;
        ``color``: ``(R, 3)`` float64 RGB of each object;
        ``area``: ``(R,)`` int64 pixels of each object as drawn;
        ``owner``: ``(H, W)`` int32, the object seen at each pixel, -1 for
        background.
    """
    height, width = size
    lo = max(1, min(object_size[0], height, width))
    hi = max(lo, min(object_size[1], height, width))
    img = _background(rng, size)
    owner = numpy.full((height, width), -1, dtype=numpy.int32)
    bbox, label, color, area = [], [], [], []
    for _ in range(rng.randint(n_objects[0], n_objects[1] + 1)):
        for _ in range(_PLACE_TRIES):
            kind = rng.randint(len(LABEL_NAMES))
            box_h = rng.randint(lo, hi + 1)
            if LABEL_NAMES[kind] == 'triangle':
                # Triangles alone are not square: aspect up to about 1.5.
                box_w = int(numpy.clip(
                    round(box_h * rng.uniform(0.67, 1.5)), lo, hi))
            else:
                box_w = box_h
            y0 = rng.randint(0, height - box_h + 1)
            x0 = rng.randint(0, width - box_w + 1)
            mask = _shape_mask(rng, LABEL_NAMES[kind], box_h, box_w)
            window = owner[y0:y0 + box_h, x0:x0 + box_w]
            # How many pixels of each earlier object the new one would hide.
            hidden = numpy.bincount(window[mask] + 1,
                                    minlength=len(bbox) + 1)[1:]
            visible = numpy.bincount(owner.ravel() + 1,
                                     minlength=len(bbox) + 1)[1:]
            if numpy.any(visible - hidden < MIN_VISIBLE * numpy.array(
                    area, dtype=numpy.float64)):
                continue
            mean_bg = img[:, y0:y0 + box_h, x0:x0 + box_w][:, mask].mean(
                axis=1)
            rgb = _pick_color(rng, mean_bg)
            # Some shading across the object so that it is not one flat
            # colour (a detector should not need flat colours).
            shade = 1 + rng.uniform(-0.15, 0.15) * numpy.linspace(
                -1, 1, box_w)
            fill = rgb[:, None] * shade[None, :]  # (3, box_w)
            patch = img[:, y0:y0 + box_h, x0:x0 + box_w]
            patch[:, mask] = numpy.broadcast_to(
                fill[:, None, :], (3, box_h, box_w))[:, mask]
            window[mask] = len(bbox)
            rows = numpy.flatnonzero(mask.any(axis=1))
            cols = numpy.flatnonzero(mask.any(axis=0))
            bbox.append((y0 + rows[0], x0 + cols[0],
                         y0 + rows[-1], x0 + cols[-1]))
            label.append(kind)
            color.append(rgb)
            area.append(int(mask.sum()))
            break
    # Sensor-like noise over everything, objects included (uniform integers:
    # several times faster to draw than normal noise, and looks the same).
    img += rng.randint(-6, 7, size=img.shape, dtype=numpy.int8)
    img = numpy.clip(numpy.rint(img), 0, 255).astype(numpy.uint8)
    return {
        'img': numpy.ascontiguousarray(img.transpose(1, 2, 0)),
        'bbox': numpy.array(bbox, dtype=numpy.float32).reshape(-1, 4),
        'label': numpy.array(label, dtype=numpy.int32),
        'color': numpy.array(color, dtype=numpy.float64).reshape(-1, 3),
        'area': numpy.array(area, dtype=numpy.int64),
        'owner': owner,
    }


def _annotation_xml(image_id, size, bbox, label):
    """VOC annotation text; coordinates written 1-based as VOC does."""
    height, width = size
    lines = [
        '<annotation>',
        '\t<folder>shapes</folder>',
        '\t<filename>{}.jpg</filename>'.format(image_id),
        '\t<size>',
        '\t\t<width>{}</width>'.format(width),
        '\t\t<height>{}</height>'.format(height),
        '\t\t<depth>3</depth>',
        '\t</size>',
        '\t<segmented>0</segmented>',
    ]
    for (y_min, x_min, y_max, x_max), lab in zip(bbox, label):
        lines += [
            '\t<object>',
            '\t\t<name>{}</name>'.format(LABEL_NAMES[lab]),
            '\t\t<pose>Unspecified</pose>',
            '\t\t<truncated>0</truncated>',
            '\t\t<difficult>0</difficult>',
            '\t\t<bndbox>',
            '\t\t\t<xmin>{}</xmin>'.format(int(x_min) + 1),
            '\t\t\t<ymin>{}</ymin>'.format(int(y_min) + 1),
            '\t\t\t<xmax>{}</xmax>'.format(int(x_max) + 1),
            '\t\t\t<ymax>{}</ymax>'.format(int(y_max) + 1),
            '\t\t</bndbox>',
            '\t</object>',
        ]
    lines.append('</annotation>')
    return '\n'.join(lines) + '\n'


def generate_shapes(out, n_train, n_test, seed, size=DEFAULT_SIZE,
                    n_objects=DEFAULT_N_OBJECTS,
                    object_size=DEFAULT_OBJECT_SIZE, quality=JPEG_QUALITY,
                    progress=False):
    """Write the shapes data set in the VOC layout under ``out``.

    Images ``000000`` .. are the ``trainval`` split (``n_train`` of them),
    the next ``n_test`` the ``test`` split. Files already there with the same
    names are overwritten.

    Args:
        out (str): the data directory to write (created if needed).
        n_train (int): images in ``trainval``.
        n_test (int): images in ``test``.
        seed (int): seed of the one ``numpy.random.RandomState`` used.
        size (tuple of int): ``(H, W)`` of every image.
        n_objects (tuple of int): fewest and most objects per image.
        object_size (tuple of int): smallest and largest box side in pixels.
        quality (int): JPEG quality.
        progress (bool): print progress to stderr.

    Returns:
        dict: image id -> ``(bbox, label)``, ``(R, 4)`` float32 0-based
        ``(y_min, x_min, y_max, x_max)`` and ``(R,)`` int32, exactly what
        :class:`~fasterrcnn.data.voc.VOCBboxDataset` reads back.
    """
    if n_train < 0 or n_test < 0:
        raise ValueError('n_train and n_test must be >= 0')
    size = (int(size[0]), int(size[1]))
    rng = numpy.random.RandomState(seed)
    for folder in ('Annotations', 'JPEGImages',
                   os.path.join('ImageSets', 'Main')):
        os.makedirs(os.path.join(out, folder), exist_ok=True)
    with open(os.path.join(out, 'labels.txt'), 'w', encoding='utf-8',
              newline='\n') as f:
        f.write(''.join(name + '\n' for name in LABEL_NAMES))

    total = n_train + n_test
    ids = ['{:06d}'.format(i) for i in range(total)]
    bar = Progress(total, desc='shapes', unit='images', enabled=progress)
    annotations = {}
    for i, image_id in enumerate(ids):
        example = render_example(rng, size, n_objects, object_size)
        # Fixed encoder settings and no metadata: same input, same bytes.
        Image.fromarray(example['img']).save(
            os.path.join(out, 'JPEGImages', image_id + '.jpg'),
            format='JPEG', quality=quality, subsampling=0, optimize=False)
        with open(os.path.join(out, 'Annotations', image_id + '.xml'), 'w',
                  encoding='utf-8', newline='\n') as f:
            f.write(_annotation_xml(image_id, size, example['bbox'],
                                    example['label']))
        annotations[image_id] = (example['bbox'], example['label'])
        bar.update(i + 1)
    bar.close()
    for split, split_ids in (('trainval', ids[:n_train]),
                             ('test', ids[n_train:])):
        with open(os.path.join(out, 'ImageSets', 'Main', split + '.txt'),
                  'w', encoding='utf-8', newline='\n') as f:
            f.write(''.join(image_id + '\n' for image_id in split_ids))
    return annotations


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m fasterrcnn.data.shapes',
        description='Write the synthetic shapes detection data set '
                    '(circle, square, triangle) in the VOC layout.')
    parser.add_argument('--out', required=True, help='data directory')
    parser.add_argument('--n-train', type=int, required=True,
                        help='images in the trainval split')
    parser.add_argument('--n-test', type=int, required=True,
                        help='images in the test split')
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'),
                        default=list(DEFAULT_SIZE),
                        help='image size (default: %(default)s)')
    parser.add_argument('--quality', type=int, default=JPEG_QUALITY,
                        help='JPEG quality (default: %(default)s)')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress on stderr')
    args = parser.parse_args(argv)
    generate_shapes(args.out, args.n_train, args.n_test, args.seed,
                    size=tuple(args.size), quality=args.quality,
                    progress=not args.quiet)
    return 0


if __name__ == '__main__':
    sys.exit(main())
