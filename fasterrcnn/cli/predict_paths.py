"""Which image files ``fasterrcnn-predict`` reads, and the distinct names
under which it writes their outputs (``NAME.json`` and ``NAME.png``)."""

import os

from fasterrcnn.cli.common import UserError

#: File name endings (compared in lower case) of the images a folder gives.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm')


def _is_image_name(name):
    return not name.startswith('.') and \
        name.lower().endswith(IMAGE_EXTENSIONS)


def list_images(paths):
    """The image files that command-line paths name, in order.

    A file is taken as it is (whatever its name: a bad one is found when
    read); a folder gives its image files, sorted by name. A file named
    twice (also through a folder) is taken once, where it first comes.

    Args:
        paths (sequence of str): files and folders.

    Returns:
        list of str: the image paths.

    Raises:
        UserError: a path does not exist, or a folder has no image files.
    """
    images, seen = [], set()
    for path in paths:
        if os.path.isdir(path):
            found = sorted(name for name in os.listdir(path)
                           if _is_image_name(name) and
                           os.path.isfile(os.path.join(path, name)))
            if not found:
                raise UserError('{}: no image files in this folder (looked '
                                'for {})'.format(path,
                                                 ' '.join(IMAGE_EXTENSIONS)))
            files = [os.path.join(path, name) for name in found]
        elif os.path.exists(path):
            files = [path]
        else:
            raise UserError('{}: no such file or folder'.format(path))
        for image in files:
            key = os.path.realpath(image)
            if key not in seen:
                seen.add(key)
                images.append(image)
    return images


def output_names(images):
    """A distinct output name (no extension) for each image.

    An image keeps its file name without the extension unless an earlier
    image has that name already; then it gets ``NAME_2``, ``NAME_3``, ...,
    the first one that no image has and no earlier image was given. Names
    are compared ignoring case, so that the outputs are distinct on a
    case-insensitive file system too.

    Args:
        images (sequence of str): image paths, in order.

    Returns:
        list of str: one name per image.
    """
    stems = [os.path.splitext(os.path.basename(p))[0] for p in images]
    # Every image's own name is reserved first, so that a renamed image
    # never takes the name an image later in the list would keep.
    taken = {stem.lower() for stem in stems}
    used, names = set(), []
    for stem in stems:
        name = stem
        if stem.lower() in used:
            k = 2
            while '{}_{}'.format(stem, k).lower() in taken:
                k += 1
            name = '{}_{}'.format(stem, k)
            taken.add(name.lower())
        used.add(name.lower())
        names.append(name)
    return names


def check_outputs(images, names, out):
    """A UserError if an output file would replace one of the images (an
    output folder that holds the inputs: ``x.png`` is also a drawing's
    name)."""
    inputs = {os.path.realpath(p) for p in images}
    for image, name in zip(images, names):
        for ext in ('.json', '.png'):
            path = os.path.join(out, name + ext)
            if os.path.realpath(path) in inputs:
                raise UserError(
                    '--out {}: the drawing or JSON of {} would replace the '
                    'input image {}; choose another output folder'.format(
                        out, image, path))
