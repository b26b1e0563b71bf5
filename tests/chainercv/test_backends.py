"""chainer.config's cv_resize_backend / cv_read_image_backend, as chainercv
reads them (fasterrcnn.chainercv.backends)."""

import chainer
import numpy
import pytest
from PIL import Image

import fasterrcnn.chainercv  # noqa: F401  (sets the defaults)
from fasterrcnn.chainercv.transforms import resize
from fasterrcnn.chainercv.utils import read_image


def test_defaults_are_set():
    assert chainer.global_config.cv_resize_backend is None
    assert chainer.global_config.cv_read_image_backend is None


@pytest.mark.parametrize('value', [None, 'PIL'])
def test_pillow_is_used(value, tmp_path):
    img = numpy.arange(12, dtype=numpy.float32).reshape(1, 3, 4)
    path = str(tmp_path / 'a.png')
    Image.fromarray(numpy.zeros((2, 3, 3), numpy.uint8)).save(path)
    with chainer.using_config('cv_resize_backend', value), \
            chainer.using_config('cv_read_image_backend', value):
        assert resize(img, (6, 8)).shape == (1, 6, 8)
        assert read_image(path).shape == (3, 2, 3)


@pytest.mark.parametrize('value,match', [('cv2', 'Pillow backend only'),
                                         ('opencv', 'must be one of')])
def test_other_backends_are_refused(value, match, tmp_path):
    with chainer.using_config('cv_resize_backend', value):
        with pytest.raises(ValueError, match=match):
            resize(numpy.zeros((1, 2, 2), numpy.float32), (3, 3))
    with chainer.using_config('cv_read_image_backend', value):
        with pytest.raises(ValueError, match=match):
            read_image(str(tmp_path / 'never_read.png'))
