"""bench/floor.py: the products of a VGG16 predict and training step,
with the shapes ours gives them, and its table on a tiny input."""

from tests.bench.test_train_step import _load


def test_predict_products_at_600_by_800():
    floor = _load('floor')
    rows = floor.products((600, 800), training=False)
    shapes = dict(rows)
    assert len(rows) == len(shapes) == 13 + 2 + 3
    # conv1_2 and conv2_1 on im2col, the wide layers by Winograd's 16.
    assert shapes['conv1_2 forward'] == (1, 64, 576, 600 * 800)
    assert shapes['conv2_1 forward'] == (1, 128, 576, 300 * 400)
    assert shapes['conv3_2 forward (W)'] == (16, 256, 256, 75 * 100)
    assert shapes['conv5_3 forward (W)'] == (16, 512, 512, 19 * 25)
    assert shapes['rpn conv forward (W)'] == (16, 512, 512, 19 * 25)
    assert shapes['fc6 forward'] == (1, 300, 25088, 4096)
    assert abs(floor.gflop(shapes['fc6 forward']) - 61.65) < 0.01


def test_training_products_follow_the_trainable_layers():
    floor = _load('floor')
    labels = [label for label, _ in floor.products((600, 800),
                                                   training=True)]
    # Frozen blocks 1-2: forward only; conv3_1: no input gradient.
    assert not any(label.startswith(('conv1', 'conv2')) and
                   not label.endswith(('forward', 'forward (W)'))
                   for label in labels)
    assert 'conv3_1 gW (W)' in labels
    assert not any(label.startswith('conv3_1 gx') for label in labels)
    for name in ('conv3_2', 'conv4_3', 'conv5_3', 'rpn conv'):
        assert {name + ' gx (W)', name + ' gW (W)'} <= set(labels)
    shapes = dict(floor.products((600, 800), training=True))
    assert shapes['fc6 forward'] == (1, 128, 25088, 4096)
    assert shapes['fc6 gx'] == (1, 128, 4096, 25088)
    assert shapes['fc6 gW'] == (1, 4096, 128, 25088)


def test_table_on_a_tiny_input(capsys, monkeypatch):
    floor = _load('floor')
    monkeypatch.setattr(floor, 'PREDICT_ROIS', 3)
    monkeypatch.setattr(floor, 'TRAIN_ROIS', 2)
    assert floor.main(['--size', '32', '48', '--repeat', '1',
                       '--torch-ms', '1000', '2000']) == 0
    out = capsys.readouterr().out
    assert out.count('| **all** (fastest runs:') == 2
    assert "0.8 x the PyTorch version's 1000 ms: 800 ms" in out
    assert "0.8 x the PyTorch version's 2000 ms: 1600 ms" in out
    # At 32 x 48 nothing is wide enough for Winograd.
    assert '(W)' not in out
