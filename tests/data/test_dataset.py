"""The data set base (fasterrcnn/data/dataset.py): clipping a box to its
image, and examples read through DetectionDataset."""

import numpy
import pytest
from PIL import Image

from fasterrcnn.data.bad_examples import BadExampleError
from fasterrcnn.data.dataset import DetectionDataset, clip


def test_clip_keeps_a_box_inside_the_image():
    assert clip([1., 2., 8., 9.], (10, 20), 'a.xml', 'object 0') == \
        [1., 2., 8., 9.]


def test_clip_cuts_a_box_to_the_last_row_and_column():
    # (H, W) = (10, 20): rows 0 .. 9, columns 0 .. 19.
    assert clip([-3., -1.5, 12., 25.], (10, 20), 'a.xml', 'object 0') == \
        [0., 0., 9., 19.]


@pytest.mark.parametrize('coords', [
    [12., 2., 15., 9.],     # below the image
    [1., 20., 8., 30.],     # right of it
    [-5., -5., 0., 0.],     # only the corner pixel: no extent left
])
def test_clip_refuses_a_box_outside_the_image(coords):
    with pytest.raises(BadExampleError) as info:
        clip(coords, (10, 20), 'a.xml', 'object 3 (\'cat\')')
    message = str(info.value)
    assert message.startswith("a.xml: object 3 ('cat') lies outside the "
                              "20x10 image (box ")
    # Printed 1-based, as VOC annotations count pixels.
    assert '{:g}, {:g}'.format(coords[0] + 1, coords[1] + 1) in message
    assert '\n' not in message


class _OneImage(DetectionDataset):
    """One image with two objects, the second difficult."""

    def __init__(self, path, use_difficult, return_difficult):
        self.ids = ['only']
        self.path = path
        self.use_difficult = use_difficult
        self.return_difficult = return_difficult

    def image_path(self, i):
        return self.path

    def read_objects(self, i, img_size):
        bbox = [[1., 1., 5., 5.], [0., 0., 30., 30.]]
        if img_size is not None:
            bbox = [clip(b, img_size, 'only.xml', 'object') for b in bbox]
        return (numpy.array(bbox, numpy.float32), numpy.array([0, 1],
                numpy.int32), numpy.array([False, True]))


def test_examples_of_the_base_class(tmp_path):
    path = str(tmp_path / 'only.png')
    Image.new('RGB', (12, 8), (10, 20, 30)).save(path)
    dataset = _OneImage(path, use_difficult=True, return_difficult=True)
    assert len(dataset) == 1
    img, bbox, label, difficult = dataset[0]
    assert img.shape == (3, 8, 12) and img.dtype == numpy.float32
    numpy.testing.assert_array_equal(img[:, 0, 0], [10, 20, 30])
    # The second box clipped to the 8 x 12 image.
    numpy.testing.assert_array_equal(bbox, [[1, 1, 5, 5], [0, 0, 7, 11]])
    numpy.testing.assert_array_equal(label, [0, 1])
    numpy.testing.assert_array_equal(difficult, [False, True])
    dataset.check_example(0)

    plain = _OneImage(path, use_difficult=False, return_difficult=False)
    img, bbox, label = plain[0]
    numpy.testing.assert_array_equal(bbox, [[1, 1, 5, 5]])
    numpy.testing.assert_array_equal(label, [0])
