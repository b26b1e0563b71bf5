"""A few Trainer iterations of the tiny run on each device (the ``device``
fixture): the same losses as on the CPU, the model on the device."""

import numpy
import pytest

from fasterrcnn.config import load_config
from fasterrcnn.training.builder import build_trainer
from tests.support.tiny_run import TINY


def losses(config, out, device_id, iterations=3):
    """``main/loss`` of the first iterations, and the train chain."""
    trainer, _, _ = build_trainer(config, out, device=device_id,
                                  progress=False)
    updater = trainer.updater
    seen = []
    for _ in range(iterations):
        observation = {}
        with trainer.reporter.scope(observation):
            updater.update()
        seen.append(float(observation['main/loss'].array))
    return seen, updater.get_optimizer('main').target


@pytest.mark.e2e
def test_trainer_iterations(device, data_dir, tmp_path):
    config = load_config(None, ['data.dir=' + data_dir] + list(TINY) +
                         ['train.batch_size=2', 'train.prefetch=false'])
    device_id = -1 if device.xp is numpy else device.device.id
    ref, _ = losses(config, str(tmp_path / 'cpu'), -1)
    got, chain = losses(config, str(tmp_path / 'device'), device_id)
    assert isinstance(chain.faster_rcnn.head.score.W.array, device.xp.ndarray)
    assert all(numpy.isfinite(ref)) and len(set(ref)) > 1
    numpy.testing.assert_allclose(got, ref, rtol=1e-4)
