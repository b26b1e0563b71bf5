"""chainercv's PASCAL VOC detection data set and class names.

:data:`voc_bbox_label_names` and :class:`VOCBboxDataset` with the names,
signature, defaults and examples of ``chainercv.datasets``. With
``data_dir='auto'`` it looks where chainercv puts the data, and when the
data is not there it fetches PASCAL VOC's archive there, checks its MD5
and unpacks it, as chainercv does (:mod:`fasterrcnn.artifacts`; with
``FASTERRCNN_OFFLINE=1`` one line says which archive to fetch and where).
It is a sliceable data set, as chainercv's: ``dataset.slice[:, 'label']``
reads the annotations without opening an image.
"""

import os
import warnings

import chainer

from fasterrcnn.artifacts.fetch import FetchError, fetch
from fasterrcnn.artifacts.table import ARTIFACTS
from fasterrcnn.chainercv.chainer_experimental.datasets.sliceable import \
    GetterDataset
from fasterrcnn.data import voc as _voc
from fasterrcnn.data.image import read_image

#: The 20 PASCAL VOC classes in their standard order (label 0 .. 19).
voc_bbox_label_names = _voc.VOC_BBOX_LABEL_NAMES

# Where chainercv keeps VOC under the chainer data set root.
_VOC_ROOT = os.path.join('pfnet', 'chainercv', 'voc')

#: The archive (an artifact of the table) that holds each year's splits.
_ARCHIVES = {'2012': 'voc2012-trainval', '2007': 'voc2007-trainval',
             '2007_test': 'voc2007-test'}

_SPLITS = ('train', 'trainval', 'val')


def _auto_data_dir(year, split):
    """chainercv's VOC folder for ``year``, its archive fetched and
    unpacked there first when the split is missing.

    The folder is ``<dataset root>/pfnet/chainercv/voc/VOCdevkit/VOC<year>``,
    with the root from :func:`chainer.dataset.get_dataset_root`. Offline (or
    when the fetch fails) nothing is created and the error says how to get
    the archive.
    """
    if year not in ('2007', '2012'):
        raise ValueError(
            "VOCBboxDataset: year must be '2007' or '2012' with "
            "data_dir='auto', got {!r}".format(year))
    voc_root = os.path.join(chainer.dataset.get_dataset_root(), _VOC_ROOT)
    data_dir = os.path.join(voc_root, 'VOCdevkit', 'VOC' + year)
    split_file = os.path.join(data_dir, 'ImageSets', 'Main', split + '.txt')
    if not os.path.isfile(split_file):
        key = '2007_test' if (year, split) == ('2007', 'test') else year
        artifact = ARTIFACTS[_ARCHIVES[key]]
        try:
            fetch(artifact, to=voc_root)
        except FetchError as e:
            raise FileNotFoundError(
                '{} not found: {}; it unpacks into VOCdevkit/VOC{} (or set '
                'CHAINER_DATASET_ROOT, before chainer is imported, to the '
                'data set root that holds {})'.format(
                    split_file, e.args[0], year, _VOC_ROOT)) from None
        if not os.path.isfile(split_file):
            raise FileNotFoundError('{} not found in the archive {}'.format(
                split_file, artifact.url))
    return data_dir


#: The values read from an annotation file (without the image).
_ANNOTATION_KEYS = ('bbox', 'label', 'difficult')


class VOCBboxDataset(GetterDataset, _voc.VOCBboxDataset):
    """PASCAL VOC boxes, as ``chainercv.datasets.VOCBboxDataset``.

    Args:
        data_dir (str): the ``VOCdevkit/VOC<year>`` folder, or ``'auto'``:
            chainercv's location,
            ``<chainer dataset root>/pfnet/chainercv/voc/VOCdevkit/VOC<year>``
            (the root is ``$CHAINER_DATASET_ROOT``, by default
            ``~/.chainer/dataset``). A missing split is fetched there
            (PASCAL VOC's archive, MD5 checked, unpacked); offline
            (``FASTERRCNN_OFFLINE=1``) or when the fetch fails, a
            :class:`FileNotFoundError` names the archive to extract there.
        split (str): ``'train'``, ``'val'``, ``'trainval'``, or ``'test'``
            (2007 only); others are read too, with a warning, as chainercv.
        year (str): ``'2007'`` or ``'2012'``; used only with
            ``data_dir='auto'``, where another year is a :class:`ValueError`.
        use_difficult (bool): keep the objects marked difficult.
        return_difficult (bool): add the difficult flags to each example.

    Class names in the annotations are stripped and lowercased before they
    are looked up in :data:`voc_bbox_label_names`, as chainercv does.

    Each example is ``(img, bbox, label)``, or ``(img, bbox, label,
    difficult)`` with ``return_difficult``, as chainercv:
        img: ``(3, H, W)`` float32 RGB in ``[0, 255]``;
        bbox: ``(R, 4)`` float32 ``(y_min, x_min, y_max, x_max)``, 0-based
            pixels (``(0, 4)`` for an image without objects, where chainercv
            fails);
        label: ``(R,)`` int32 in ``[0, 20)``;
        difficult: ``(R,)`` bool.

    It is a sliceable ``GetterDataset``, as chainercv's: its :attr:`keys` are
    ``('img', 'bbox', 'label')``, or ``('img', 'bbox', 'label',
    'difficult')`` with ``return_difficult``, and ``dataset.slice[indices,
    keys]`` is a view of some examples and values. A view without
    ``'img'`` reads only the annotation files; its boxes are then as the
    file has them, where an example with its image has them clipped to the
    image (the two differ only for a box that crosses the image's border,
    which VOC's annotations do not have; chainercv clipped neither).
    """

    # chainercv strips and lowercases the names in the annotations.
    lowercase_names = True

    def __init__(self, data_dir='auto', split='train', year='2012',
                 use_difficult=False, return_difficult=False):
        if data_dir == 'auto':
            data_dir = _auto_data_dir(year, split)
        if split not in _SPLITS and (split, year) != ('test', '2007'):
            warnings.warn(
                "VOCBboxDataset: split {!r} is not one of 'train', "
                "'trainval', 'val' (and 'test' for 2007)".format(split))
        self.year = year
        GetterDataset.__init__(self)
        _voc.VOCBboxDataset.__init__(
            self, data_dir, split=split, use_difficult=use_difficult,
            return_difficult=return_difficult,
            label_names=voc_bbox_label_names)
        self.add_getter('img', self._get_image)
        self.add_getter(_ANNOTATION_KEYS, self.get_annotation)
        if not return_difficult:
            self.keys = ('img', 'bbox', 'label')

    def __len__(self):
        return len(self.ids)

    def _get_image(self, i):
        """The image of example ``i``: ``(3, H, W)`` float32 RGB in ``[0,
        255]``."""
        return read_image(self.image_path(i))

    def get_example_by_keys(self, index, key_indices):
        names = self.keys
        if isinstance(names, str):
            names = (names,)
        wanted = [names[k] for k in key_indices]
        if 'img' not in wanted or not set(wanted) & set(_ANNOTATION_KEYS):
            return super().get_example_by_keys(index, key_indices)
        # The image is read anyway: its size checks and clips the boxes,
        # as the whole example always has them.
        img = self._get_image(index)
        values = dict(zip(_ANNOTATION_KEYS,
                          self.get_annotation(index, img.shape[1:])))
        values['img'] = img
        return tuple(values[name] for name in wanted)
