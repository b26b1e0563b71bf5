"""``--model voc07``: chainercv's trained model by name in fasterrcnn-predict
and fasterrcnn-eval (fasterrcnn/cli/common.py, fasterrcnn/chainercv/
trained.py), fetched from a server on the loopback address, then served
from chainercv's folder with no network."""

import io
import json
import os

import chainer
import numpy
import pytest

from fasterrcnn.artifacts import fetch as fetch_module
from fasterrcnn.chainercv import trained
from fasterrcnn.chainercv.datasets import voc_bbox_label_names
from fasterrcnn.chainercv.links import FasterRCNNVGG16
from fasterrcnn.chainercv.links.model.faster_rcnn import FasterRCNN
from fasterrcnn.chainercv.links.model.faster_rcnn.faster_rcnn_vgg import MEAN
from fasterrcnn.chainercv.pretrained import FASTER_RCNN_VGG16_MODELS
from fasterrcnn.chainercv.trained import TRAINED_MODELS
from fasterrcnn.cli import common
from fasterrcnn.cli import evaluate as evaluate_cli
from fasterrcnn.cli import predict as predict_cli
from fasterrcnn.links.backbones import vgg16
from fasterrcnn.links.rpn import RegionProposalNetwork
from tests.cli.test_predict import write_image
from tests.support.loopback import Loopback

#: The class the stand-in weights detect.
PERSON = voc_bbox_label_names.index('person')


def stand_in_voc07():
    """A file in the layout of chainercv's voc07 model (every parameter of
    the full FasterRCNNVGG16, chainercv's names and shapes), as a
    compressed ``.npz`` of a few hundred KB: every weight 0 but the score
    bias of 'person' (5: a probability of e^5 / (e^5 + 20) = 0.88 for every
    RoI), so each proposal that survives NMS is a 'person'."""
    numpy.random.seed(0)
    model = FasterRCNNVGG16(n_fg_class=20)
    arrays = {}
    for name, param in model.namedparams():
        value = numpy.zeros(param.shape, numpy.float32)
        if name == '/head/score/b':
            value[PERSON + 1] = 5.
        arrays[name.lstrip('/')] = value
    buffer = io.BytesIO()
    numpy.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture
def chainer_root(tmp_path):
    old = chainer.dataset.get_dataset_root()
    chainer.dataset.set_dataset_root(str(tmp_path / 'chainer'))
    yield tmp_path / 'chainer'
    chainer.dataset.set_dataset_root(old)


def test_the_commands_know_every_trained_model():
    assert common.TRAINED_NAMES == tuple(sorted(TRAINED_MODELS))


def test_a_file_of_that_name_is_a_model_file(tmp_path, monkeypatch):
    # 'voc07' is chainercv's model only where no such file exists.
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'voc07').write_bytes(b'not a model')
    monkeypatch.setattr(trained, 'load_trained', pytest.fail)
    with pytest.raises(common.BadFileError, match='voc07'):
        common.load_model_for_inference('voc07', 'visualize')


def test_offline_and_not_cached_is_one_line(chainer_root, tmp_path, capsys):
    image = write_image(tmp_path / 'photo.jpg', 60, 80, seed=0)
    assert predict_cli.main(['--model', 'voc07', image,
                             '--no-progress']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert FASTER_RCNN_VGG16_MODELS['voc07']['url'] in err[0]
    assert 'FASTERRCNN_OFFLINE is set' in err[0]


@pytest.mark.slow
def test_predict_voc07_fetches_caches_and_predicts(chainer_root, tmp_path,
                                                   monkeypatch, capsys):
    # The full-size model is built three times (seconds each).
    url = FASTER_RCNN_VGG16_MODELS['voc07']['url']
    name = url.rsplit('/', 1)[-1]
    image = write_image(tmp_path / 'photo.jpg', 120, 160, seed=1)
    monkeypatch.setattr(fetch_module, 'BACKOFF_SECONDS', 0.)
    monkeypatch.delenv('FASTERRCNN_OFFLINE')
    with Loopback({name: stand_in_voc07()}) as server:
        monkeypatch.setenv('FASTERRCNN_MIRROR', server.base)
        assert predict_cli.main(['--model', 'voc07', image,
                                 '--no-progress']) == 0
    assert server.requests == [name]
    assert os.path.isfile(str(chainer_root / 'pfnet' / 'chainercv' /
                              'models' / name))
    first = capsys.readouterr().out
    lines = first.splitlines()
    assert lines[0].startswith(image + ': ')
    assert len(lines) > 2 and all(line.startswith('  person 0.881 (')
                                  for line in lines[1:-1])
    assert lines[-1].endswith('detections (0 skipped)')

    # No network: served from chainercv's folder, the same detections.
    monkeypatch.setenv('FASTERRCNN_OFFLINE', '1')
    monkeypatch.delenv('FASTERRCNN_MIRROR')
    out = tmp_path / 'out'
    assert predict_cli.main(['--model', 'voc07', image, '--no-progress',
                             '--out', str(out)]) == 0
    assert sorted(os.listdir(str(out))) == ['photo.json', 'photo.png']
    capsys.readouterr()
    assert predict_cli.main(['--model', 'voc07', image,
                             '--no-progress']) == 0
    assert capsys.readouterr().out == first


def tiny_chainercv_model():
    """A model of chainercv's structure and semantics (its extractor's
    poolings and names, RGB minus the mean, Pillow's resize, NMS at IoU >=)
    at tiny widths, for the 20 VOC classes."""
    numpy.random.seed(0)
    extractor = vgg16.VGG16((4, 4, 8, 8, 8), freeze_conv12=False,
                            cover_all=True, activ_links=True)
    head = vgg16.VGG16RoIHead(21, in_channels=8, fc_size=16)
    model = FasterRCNN(extractor, RegionProposalNetwork(8, 8), head,
                       mean=MEAN.copy(), min_size=64, max_size=96)
    model.n_fg_class = 20  # as FasterRCNNVGG16 has it
    return model


def write_voc_names(data_dir):
    """Two 40 x 56 JPEGs of PASCAL VOC objects in the VOC layout (no
    labels file: the 20 VOC classes)."""
    for folder in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        os.makedirs(os.path.join(data_dir, folder))
    objects = {'000001': ('person', (5, 6, 30, 40)),
               '000002': ('car', (2, 3, 20, 50))}
    for i, (image_id, (name, (ymin, xmin, ymax, xmax))) in enumerate(
            sorted(objects.items())):
        write_image(os.path.join(data_dir, 'JPEGImages', image_id + '.jpg'),
                    40, 56, seed=i)
        with open(os.path.join(data_dir, 'Annotations', image_id + '.xml'),
                  'w') as f:
            f.write('<annotation><object><name>{}</name><difficult>0'
                    '</difficult><bndbox><xmin>{}</xmin><ymin>{}</ymin>'
                    '<xmax>{}</xmax><ymax>{}</ymax></bndbox></object>'
                    '</annotation>'.format(name, xmin, ymin, xmax, ymax))
    with open(os.path.join(data_dir, 'ImageSets', 'Main', 'test.txt'),
              'w') as f:
        f.write('000001\n000002\n')


def test_eval_of_a_trained_model(tmp_path, monkeypatch, capsys):
    # The same path as predict's: the name gives chainercv's model and its
    # VOC names (a tiny stand-in here), evaluated as a model file would be;
    # a config's model.* keys are not compared with it.
    model = tiny_chainercv_model()
    monkeypatch.setattr(trained, 'load_trained', lambda name: (
        model, list(voc_bbox_label_names)))
    data = str(tmp_path / 'voc')
    write_voc_names(data)
    out = str(tmp_path / 'eval.json')
    assert evaluate_cli.main(['--model', 'voc07', '--data', data, '--out',
                              out, '--no-progress', '--set',
                              'model.fc_size=16']) == 0
    stdout = capsys.readouterr().out
    assert 'model: voc07' in stdout
    with open(out) as f:
        record = json.load(f)
    assert record['n_images'] == 2 and record['model'] == 'voc07'
