"""chainercv's image backend switches: ``chainer.config.cv_resize_backend``
and ``chainer.config.cv_read_image_backend``.

chainercv reads and resizes with OpenCV or Pillow as these say (None: OpenCV
when installed). This package provides the Pillow backend only: None and
``'PIL'`` select it; ``'cv2'`` is refused with the ValueError chainercv
gives where OpenCV is missing, and any other value with chainercv's
ValueError too.
"""

import chainer

#: The two settings, None by default (chainercv sets them when imported).
KEYS = ('cv_resize_backend', 'cv_read_image_backend')


def set_defaults():
    """Give both settings chainercv's default where they are not set."""
    for key in KEYS:
        if not hasattr(chainer.global_config, key):
            setattr(chainer.global_config, key, None)


def check_pillow(key):
    """Raise ValueError unless ``chainer.config.<key>`` selects Pillow."""
    value = getattr(chainer.config, key, None)
    if value in (None, 'PIL'):
        return
    if value == 'cv2':
        raise ValueError(
            "chainer.config.{} is 'cv2', but fasterrcnn.chainercv has the "
            "Pillow backend only; set it to None or 'PIL'".format(key))
    raise ValueError("chainer.config.{} must be one of 'cv2', 'PIL', got "
                     "{!r}".format(key, value))
