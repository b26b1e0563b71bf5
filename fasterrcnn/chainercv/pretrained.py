"""chainercv's pretrained weights, found where chainercv keeps them.

chainercv names its published weights (``pretrained_model='voc07'``) and
downloads each once into ``<dataset root>/pfnet/chainercv/models/``, the
dataset root being ``$CHAINER_DATASET_ROOT`` (``~/.chainer/dataset`` by
default). A named model is read from that same place, so a machine that
has run chainercv before finds its files; a missing one is fetched there
and verified (:mod:`fasterrcnn.artifacts`; ``FASTERRCNN_OFFLINE=1``: a
one-line error says which URL to fetch and where to put it instead).
Every file is read as data only (:mod:`fasterrcnn.safe_npz`).
"""

import os

import chainer

from fasterrcnn.artifacts.fetch import FetchError, by_url, fetch

#: ``pretrained_model`` names of FasterRCNNVGG16: its classes and the file.
FASTER_RCNN_VGG16_MODELS = {
    'voc07': {'n_fg_class': 20,
              'url': 'https://chainercv-models.preferred.jp/'
                     'faster_rcnn_vgg16_voc07_trained_2018_06_01.npz'},
    'voc0712': {'n_fg_class': 20,
                'url': 'https://chainercv-models.preferred.jp/'
                       'faster_rcnn_vgg16_voc0712_trained_2017_07_21.npz'},
}
#: chainercv's ImageNet VGG16 (``pretrained_model='imagenet'``).
VGG16_IMAGENET_URL = ('https://chainercv-models.preferred.jp/'
                      'vgg16_imagenet_converted_2017_07_18.npz')


def models_dir():
    """Where chainercv keeps downloaded weights (not created here)."""
    return os.path.join(chainer.dataset.get_dataset_root(), 'pfnet',
                        'chainercv', 'models')


def cached_file(url):
    """The local copy of ``url`` in :func:`models_dir`, fetched there first
    when missing.

    Raises:
        FileNotFoundError: it is not there and could not be fetched; the
            one-line message says why, and how to get it.
    """
    try:
        return fetch(by_url(url), to=models_dir())
    except FetchError as e:
        raise FileNotFoundError('{} (set CHAINER_DATASET_ROOT to use '
                                'another root)'.format(e.args[0])) from None


def resolve(n_fg_class, pretrained_model, models):
    """The class count and weight file of a chainercv model's arguments.

    Args:
        n_fg_class (int or None): the constructor's ``n_fg_class``.
        pretrained_model (str or None): a name in ``models``,
            ``'imagenet'``, a path to an ``.npz``, or None.
        models (dict): name -> ``{'n_fg_class', 'url'}``.

    Returns:
        tuple: ``(n_fg_class, kind, path)``; ``kind`` is None (no weights),
        ``'model'`` (a whole model's ``.npz``) or ``'imagenet'`` (VGG16
        weights for the extractor and fc6 / fc7).

    Raises:
        ValueError: ``n_fg_class`` missing, or not the named model's.
        FileNotFoundError: see :func:`cached_file`.
    """
    if pretrained_model in models:
        entry = models[pretrained_model]
        if n_fg_class is None:
            n_fg_class = entry['n_fg_class']
        elif n_fg_class != entry['n_fg_class']:
            raise ValueError('n_fg_class must be {} for pretrained_model '
                             '{!r}, got {}'.format(entry['n_fg_class'],
                                                   pretrained_model,
                                                   n_fg_class))
        kind, path = 'model', cached_file(entry['url'])
    elif pretrained_model == 'imagenet':
        kind, path = 'imagenet', cached_file(VGG16_IMAGENET_URL)
    elif pretrained_model:
        kind, path = 'model', os.fspath(pretrained_model)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                'pretrained_model {} not found: give an .npz file or one '
                'of {}'.format(path, ', '.join(sorted(models) +
                                               ['imagenet'])))
    else:
        kind, path = None, None
    if n_fg_class is None:
        raise ValueError('n_fg_class must be specified')
    return n_fg_class, kind, path
