"""chainercv-compatible VOCBboxDataset on a hand-written two-image VOC."""

import hashlib
import io
import os
import tarfile

import numpy
import pytest

from fasterrcnn.artifacts.table import ARTIFACTS, file_name
from fasterrcnn.chainercv.datasets import VOCBboxDataset, voc_bbox_label_names
from tests.chainercv.tiny_voc import write_voc_folder
from tests.support.loopback import Loopback

# Two images: the first has a cat (not difficult), a Dog written with
# capitals and spaces, and a difficult person; the second one a car.
ANNOTATIONS = {
    '000001': [(' Cat', 0, (2, 3, 5, 8)),
               ('DOG \n', 0, (1, 1, 6, 4)),
               ('person', 1, (3, 2, 4, 6))],
    '000002': [('car', 0, (1, 2, 7, 9))],
}


def write_voc(data_dir):
    """A VOCdevkit/VOC<year> folder with ANNOTATIONS in it (image ``i``
    ``8 + i`` x 10 pixels), both in its train and test split."""
    ids = sorted(ANNOTATIONS)
    write_voc_folder(
        data_dir, [(image_id, (8 + i, 10), (200, 100, 50),
                    ANNOTATIONS[image_id]) for i, image_id in enumerate(ids)],
        {'train': ids, 'test': ids})


def auto_dir(root, year):
    return os.path.join(str(root), 'pfnet', 'chainercv', 'voc', 'VOCdevkit',
                        'VOC' + year)


def test_label_names():
    assert len(voc_bbox_label_names) == 20
    assert voc_bbox_label_names[0] == 'aeroplane'
    assert voc_bbox_label_names[-1] == 'tvmonitor'


def test_examples_from_given_dir(tmp_path):
    write_voc(str(tmp_path))
    dataset = VOCBboxDataset(str(tmp_path))
    assert len(dataset) == 2
    assert dataset.ids == ['000001', '000002']
    img, bbox, label = dataset[0]
    assert img.shape == (3, 8, 10) and img.dtype == numpy.float32
    numpy.testing.assert_allclose(img[:, 4, 5], (200, 100, 50), atol=3)
    # Difficult objects dropped; names stripped and lowercased; 0-based.
    assert bbox.dtype == numpy.float32 and label.dtype == numpy.int32
    numpy.testing.assert_array_equal(bbox, [[1, 2, 4, 7], [0, 0, 5, 3]])
    numpy.testing.assert_array_equal(
        label, [voc_bbox_label_names.index('cat'),
                voc_bbox_label_names.index('dog')])
    img, bbox, label = dataset[1]
    assert img.shape == (3, 9, 10)
    numpy.testing.assert_array_equal(label,
                                     [voc_bbox_label_names.index('car')])


def test_difficult(tmp_path):
    write_voc(str(tmp_path))
    dataset = VOCBboxDataset(str(tmp_path), use_difficult=True,
                             return_difficult=True)
    img, bbox, label, difficult = dataset[0]
    assert len(bbox) == 3
    assert difficult.dtype == bool
    numpy.testing.assert_array_equal(difficult, [False, False, True])
    assert label[2] == voc_bbox_label_names.index('person')
    _, bbox, _, difficult = VOCBboxDataset(
        str(tmp_path), return_difficult=True)[0]
    assert len(bbox) == 2 and not difficult.any()


def test_auto_finds_chainercv_location(dataset_root):
    data_dir = auto_dir(dataset_root, '2007')
    write_voc(data_dir)
    dataset = VOCBboxDataset(year='2007')
    assert dataset.data_dir == data_dir
    assert len(dataset) == 2
    # 'test' is a 2007 split: no warning (warnings are errors in the tests).
    assert len(VOCBboxDataset(split='test', year='2007')) == 2


def test_auto_missing_says_what_to_download(dataset_root):
    with pytest.raises(FileNotFoundError) as info:
        VOCBboxDataset()
    message = str(info.value)
    assert '\n' not in message
    assert 'VOCtrainval_11-May-2012.tar' in message
    assert os.path.join(str(dataset_root), 'pfnet', 'chainercv', 'voc') \
        in message
    assert 'CHAINER_DATASET_ROOT' in message
    with pytest.raises(FileNotFoundError, match='VOCtest_06-Nov-2007.tar'):
        VOCBboxDataset(split='test', year='2007')
    with pytest.raises(FileNotFoundError,
                       match='VOCtrainval_06-Nov-2007.tar'):
        VOCBboxDataset(split='val', year='2007')
    # Nothing was created.
    assert os.listdir(str(dataset_root)) == []


def test_auto_needs_a_known_year(dataset_root):
    with pytest.raises(ValueError, match='year'):
        VOCBboxDataset(year='2010')
    # With a given folder the year is not used.
    write_voc(str(dataset_root))
    assert len(VOCBboxDataset(str(dataset_root), year='2010')) == 2


def test_unusual_split_warns(tmp_path):
    write_voc(str(tmp_path))
    with pytest.warns(UserWarning, match='split'):
        dataset = VOCBboxDataset(str(tmp_path), split='test')
    assert len(dataset) == 2


def test_unknown_class_name(tmp_path):
    write_voc(str(tmp_path))
    path = os.path.join(str(tmp_path), 'Annotations', '000002.xml')
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:
        f.write(text.replace('car', 'spaceship'))
    with pytest.raises(ValueError, match='spaceship'):
        VOCBboxDataset(str(tmp_path))[1]


def test_auto_fetches_the_archive_into_chainercvs_folder(
        dataset_root, tmp_path, monkeypatch):
    source = tmp_path / 'source'
    write_voc(str(source))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as archive:
        archive.add(str(source), arcname='VOCdevkit/VOC2007')
    body = buffer.getvalue()
    artifact = ARTIFACTS['voc2007-trainval']._replace(
        check='md5:' + hashlib.md5(body).hexdigest())
    monkeypatch.setitem(ARTIFACTS, 'voc2007-trainval', artifact)
    monkeypatch.delenv('FASTERRCNN_OFFLINE')
    monkeypatch.setenv('FASTERRCNN_HOME', str(tmp_path / 'own'))
    with Loopback({file_name(artifact): body}) as server:
        monkeypatch.setenv('FASTERRCNN_MIRROR', server.base)
        dataset = VOCBboxDataset(year='2007')
        assert len(dataset) == 2
        # Unpacked where chainercv keeps it: found without a request now.
        assert dataset.data_dir == auto_dir(dataset_root, '2007')
        VOCBboxDataset(year='2007')
    assert server.requests == [file_name(artifact)]
