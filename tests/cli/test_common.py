"""What the command lines share (fasterrcnn/cli/common.py): loading a model
for inference."""

import pytest

from fasterrcnn.backend import gpu_available
from fasterrcnn.cli.common import UserError, load_model_for_inference
from fasterrcnn.links.faster_rcnn import PRESETS
from fasterrcnn.safe_npz import BadFileError
from fasterrcnn.weights.model_io import save_model
from tests.support.dummy_model import tiny_model


@pytest.fixture(scope='module')
def model_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('common') / 'model.npz')
    save_model(tiny_model(), path, ('circle', 'square', 'triangle'))
    return path


@pytest.mark.parametrize('preset', sorted(PRESETS))
def test_loads_with_the_preset_on_the_cpu(model_file, preset):
    model, names = load_model_for_inference(model_file, preset)
    assert names == ['circle', 'square', 'triangle']
    assert (model.nms_thresh, model.score_thresh) == PRESETS[preset]
    assert model.xp.__name__ == 'numpy'


def test_an_unknown_preset_and_a_missing_file(model_file, tmp_path):
    with pytest.raises(ValueError, match='preset'):
        load_model_for_inference(model_file, 'fast')
    with pytest.raises(FileNotFoundError):
        load_model_for_inference(str(tmp_path / 'none.npz'), 'evaluate')
    broken = tmp_path / 'broken.npz'
    broken.write_bytes(b'not a zip file')
    with pytest.raises(BadFileError):
        load_model_for_inference(str(broken), 'evaluate')


@pytest.mark.skipif(gpu_available(), reason='a GPU is present')
def test_a_gpu_that_is_not_there_is_a_user_error(model_file):
    with pytest.raises(UserError, match='--gpu 0: no usable CUDA device'):
        load_model_for_inference(model_file, 'evaluate', gpu=0)


@pytest.mark.gpu
def test_on_the_gpu(model_file):
    model, _ = load_model_for_inference(model_file, 'visualize', gpu=0)
    assert model.xp.__name__ == 'cupy'
    assert (model.nms_thresh, model.score_thresh) == PRESETS['visualize']
