"""The ResNet C4 backbones (fasterrcnn/links/backbones/resnet.py): sizes,
padded batches, frozen layers, the model file, and torchvision's ImageNet
weights giving torchvision's own features where torch is installed."""

import hashlib
import io

import chainer
import numpy
import pytest

from fasterrcnn.artifacts.fetch import FetchError
from fasterrcnn.artifacts.table import ARTIFACTS, file_name
from fasterrcnn.links.backbones import BACKBONES, resnet
from fasterrcnn.safe_npz import BadFileError
from fasterrcnn.weights.imagenet import load_imagenet
from fasterrcnn.weights.model_io import load_model, save_model
from tests.support.loopback import Loopback

#: A narrow ResNet of the same structure: one block per stage, stem width 8
#: (C4 map of 128 channels, stage 4 of 256).
NARROW = dict(depths=(1, 1, 1, 1), width=8, min_size=64, max_size=96)


def narrow_model(n_fg_class=3, seed=0, **overrides):
    params = dict(NARROW)
    params.update(overrides)
    numpy.random.seed(seed)
    model = resnet.FasterRCNNResNet50(n_fg_class, **params)
    randomise_batch_norms(model, numpy.random.RandomState(seed + 1))
    return model


def randomise_batch_norms(model, rng):
    """Statistics away from the identity, and each block's last convolution
    away from its zero start, so that a test sees them."""
    for link in model.links():
        if isinstance(link, resnet.Bottleneck):
            W = link.conv3.W.array
            W[...] = rng.normal(0, (2. / W.shape[1]) ** 0.5, W.shape)
        if isinstance(link, resnet.FrozenBatchNorm2D):
            shape = link.weight.shape
            link.weight[...] = rng.uniform(0.5, 1.5, shape)
            link.bias[...] = rng.uniform(-0.2, 0.2, shape)
            link.running_mean[...] = rng.uniform(-0.2, 0.2, shape)
            link.running_var[...] = rng.uniform(0.5, 2., shape)


@pytest.mark.parametrize('size, expected', [
    ((64, 96), (4, 6)), ((65, 97), (5, 7)), ((16, 16), (1, 1)),
    ((17, 31), (2, 2))])
def test_the_c4_map_has_stride_16_rounding_up(size, expected):
    model = narrow_model()
    x = numpy.zeros((1, 3) + size, numpy.float32)
    with chainer.using_config('train', False):
        h = model.extractor(x)
    assert h.shape == (1, 128) + expected
    assert tuple(model.extractor.output_sizes(numpy.array([size]))[0]) == \
        expected


def test_a_full_resnet101_from_scratch_stays_finite():
    # Frozen batch norm is the identity before ImageNet weights: the zero
    # start of each block keeps 33 blocks from overflowing.
    numpy.random.seed(0)
    model = resnet.FasterRCNNResNet101(20)
    x = numpy.random.RandomState(0).normal(
        size=(1, 3, 64, 64)).astype(numpy.float32)
    with chainer.using_config('train', False):
        h = model.extractor(x).array
    assert numpy.isfinite(h).all() and numpy.abs(h).max() < 1e3
    assert not model.extractor.layer3[5].conv3.W.array.any()


def test_backbones_in_the_table():
    assert BACKBONES['resnet50'] is resnet.FasterRCNNResNet50
    assert BACKBONES['resnet101'] is resnet.FasterRCNNResNet101
    assert resnet.DEPTHS['resnet101'] == (3, 4, 23, 3)
    with pytest.raises(ValueError, match='4 stages'):
        resnet.FasterRCNNResNet50(3, depths=(1, 1, 1))


def test_a_padded_batch_gives_each_image_its_features_alone():
    model = narrow_model()
    rng = numpy.random.RandomState(0)
    sizes = numpy.array([[64, 96], [50, 70], [33, 17]])
    x = numpy.zeros((3, 3, 64, 96), numpy.float32)
    for i, (h, w) in enumerate(sizes):
        x[i, :, :h, :w] = rng.normal(size=(3, h, w))
    with chainer.using_config('train', False):
        batch = model.extractor(x, sizes).array
        cells = model.extractor.output_sizes(sizes)
        for i, (h, w) in enumerate(sizes):
            alone = model.extractor(x[i:i + 1, :, :h, :w]).array[0]
            assert alone.shape[1:] == tuple(cells[i])
            numpy.testing.assert_allclose(
                batch[i, :, :cells[i][0], :cells[i][1]], alone, rtol=1e-5,
                atol=1e-5)
            # Outside its region the map is 0.
            assert not batch[i, :, cells[i][0]:].any()


def test_a_batch_predicts_what_one_at_a_time_predicts():
    model = narrow_model()
    model.use_preset('evaluate')
    model.score_thresh = 0.
    rng = numpy.random.RandomState(3)
    imgs = [rng.uniform(0, 255, size).astype(numpy.float32)
            for size in ((3, 50, 70), (3, 120, 40))]
    together = model.predict(imgs)
    for i, img in enumerate(imgs):
        alone = model.predict([img])
        for got, want in zip(together, alone):
            numpy.testing.assert_allclose(got[i], want[0], rtol=1e-5,
                                          atol=1e-4)
    assert sum(len(b) for b in together[0]) > 0


def test_frozen_stem_and_batch_norm_get_no_update():
    model = narrow_model(freeze_stem=True)
    frozen = model.extractor.frozen_links()
    assert model.extractor.conv1 in frozen and len(frozen) == 1 + 4
    params = {name for name, _ in model.namedparams()}
    # Batch norm holds no parameter: its statistics are persistent values.
    assert not any('bn' in name or 'downsample/1' in name for name in params)
    x = numpy.random.RandomState(0).normal(
        size=(1, 3, 64, 64)).astype(numpy.float32)
    model.cleargrads()
    chainer.functions.sum(model.extractor(x)).backward()
    for link in frozen:
        assert link.W.grad is None
    assert model.extractor.layer2[0].conv1.W.grad is not None
    assert not narrow_model(freeze_stem=False).extractor.frozen_links()


def test_the_model_file_names_its_backbone(tmp_path):
    model = narrow_model(roi_op='pool')
    path = str(tmp_path / 'resnet.npz')
    save_model(model, path, ['a', 'b', 'c'])
    loaded, names = load_model(path)
    assert type(loaded) is resnet.FasterRCNNResNet50
    assert loaded.init_args == model.init_args
    for (name, a), (_, b) in zip(sorted(model.namedparams()),
                                 sorted(loaded.namedparams())):
        numpy.testing.assert_array_equal(a.array, b.array, err_msg=name)
    # The frozen batch norms' statistics travel with the weights.
    numpy.testing.assert_array_equal(
        loaded.head.layer4[0].bn2.running_var,
        model.head.layer4[0].bn2.running_var)


def test_head_outputs():
    model = narrow_model(n_fg_class=4)
    x = numpy.random.RandomState(0).normal(
        size=(2, 128, 5, 6)).astype(numpy.float32)
    rois = numpy.array([[0, 0, 40, 50], [10, 20, 70, 90], [5, 5, 6, 6]],
                       numpy.float32)
    locs, scores = model.head(x, rois, numpy.array([0, 1, 1], numpy.int32))
    assert locs.shape == (3, 20) and scores.shape == (3, 5)
    locs, scores = model.head(x, numpy.zeros((0, 4), numpy.float32),
                              numpy.zeros(0, numpy.int32))
    assert locs.shape == (0, 20) and scores.shape == (0, 5)


def state_dict_of(model):
    """A torchvision-named state_dict of ``model``'s ResNet weights, each
    drawn at random (``fc`` too, which the loader leaves out)."""
    rng = numpy.random.RandomState(5)
    state = {name: rng.normal(size=array.shape).astype(numpy.float32)
             for name, array in resnet.torchvision_params(model)}
    for name in state:
        if name.endswith('running_var'):
            state[name] = numpy.abs(state[name]) + 0.5
    state['fc.weight'] = numpy.zeros((1000, 256), numpy.float32)
    return state


def test_imagenet_weights_by_torchvision_names(tmp_path):
    model = narrow_model()
    state = state_dict_of(model)
    path = str(tmp_path / 'resnet.npz')
    numpy.savez(path, **state)
    load_imagenet(model, path)
    numpy.testing.assert_array_equal(model.extractor.conv1.W.array,
                                     state['conv1.weight'])
    numpy.testing.assert_array_equal(
        model.extractor.layer2[0].downsample[1].running_mean,
        state['layer2.0.downsample.1.running_mean'])
    numpy.testing.assert_array_equal(model.head.layer4[0].conv3.W.array,
                                     state['layer4.0.conv3.weight'])
    del state['layer3.0.bn2.bias']
    numpy.savez(path, **state)
    with pytest.raises(BadFileError, match='layer3.0.bn2.bias'):
        load_imagenet(model, path)
    state = state_dict_of(narrow_model(width=16))
    numpy.savez(path, **state)
    with pytest.raises(BadFileError, match=r'weight has shape \(16'):
        load_imagenet(model, path)


def torchvision_resnet(torch, torchvision, depth_name):
    """torchvision's ResNet with random weights and batch norm statistics,
    in evaluation mode."""
    torch.manual_seed(0)
    net = getattr(torchvision.models, depth_name)(weights=None)
    generator = torch.Generator().manual_seed(1)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.weight.data = torch.rand(n, generator=generator) + 0.5
            module.bias.data = torch.rand(n, generator=generator) - 0.5
            module.running_mean.data = \
                torch.rand(n, generator=generator) - 0.5
            module.running_var.data = torch.rand(n, generator=generator) + 0.5
    return net.eval()


@pytest.mark.slow
@pytest.mark.parametrize('arch', ['resnet50', 'resnet101'])
def test_torchvision_weights_give_torchvisions_features(tmp_path, arch):
    torch = pytest.importorskip('torch')
    torchvision = pytest.importorskip('torchvision')
    net = torchvision_resnet(torch, torchvision, arch)
    path = str(tmp_path / (arch + '.pth'))
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    with open(path, 'wb') as f:
        f.write(buffer.getvalue())
    model = BACKBONES[arch](20)
    load_imagenet(model, path)
    rng = numpy.random.RandomState(0)
    x = rng.normal(size=(1, 3, 96, 128)).astype(numpy.float32)
    with torch.no_grad():
        t = torch.from_numpy(x)
        c4 = net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(
            net.bn1(net.conv1(t)))))))
        pooled = torch.from_numpy(rng.normal(
            size=(3, 1024, 14, 14)).astype(numpy.float32))
        head = net.avgpool(net.layer4(pooled)).flatten(1)
    with chainer.using_config('train', False), \
            chainer.using_config('enable_backprop', False):
        ours = model.extractor(x).array
        h = resnet.run_stage(model.head.layer4, pooled.numpy(), None)[0]
        ours_head = chainer.functions.mean(h, axis=(2, 3)).array
    # float32 rounding through 40-100 layers. Measured against a float64
    # run of torchvision (relative to the largest value): ours within
    # 1.4e-6 on C4, torchvision's own float32 within 1.3e-6, each other
    # within 1.8e-6 (ResNet-101); 1e-5 leaves a margin for other kernels.
    scale = numpy.abs(c4.numpy()).max()
    numpy.testing.assert_allclose(ours, c4.numpy(), rtol=0,
                                  atol=1e-5 * scale)
    numpy.testing.assert_allclose(ours_head, head.numpy(), rtol=0,
                                  atol=1e-5 * numpy.abs(head.numpy()).max())


def test_pretrained_model_imagenet_is_fetched(tmp_path, monkeypatch):
    # torchvision's ResNet-50 file, a stand-in of the narrow model's shapes
    # (an .npz of its names) served on 127.0.0.1 where the table says.
    state = state_dict_of(narrow_model())
    buffer = io.BytesIO()
    numpy.savez(buffer, **state)
    body = buffer.getvalue()
    prefix = hashlib.sha256(body).hexdigest()[:8]
    artifact = ARTIFACTS['resnet50-torchvision']._replace(
        url='http://official.invalid/resnet50-{}.npz'.format(prefix),
        check='sha256:' + prefix)
    monkeypatch.setitem(ARTIFACTS, 'resnet50-torchvision', artifact)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.delenv('FASTERRCNN_OFFLINE')
    with Loopback({file_name(artifact): body}) as server:
        monkeypatch.setenv('FASTERRCNN_MIRROR', server.base)
        model = resnet.FasterRCNNResNet50(3, pretrained_model='imagenet',
                                          **NARROW)
    numpy.testing.assert_array_equal(model.head.layer4[0].conv2.W.array,
                                     state['layer4.0.conv2.weight'])
    assert 'pretrained_model' not in model.init_args


def test_pretrained_model_of_a_whole_model_or_missing(tmp_path):
    path = str(tmp_path / 'model.npz')
    trained = narrow_model(seed=4)
    save_model(trained, path)
    numpy.random.seed(5)
    again = resnet.FasterRCNNResNet50(3, pretrained_model=path, **NARROW)
    numpy.testing.assert_array_equal(again.rpn.score.W.array,
                                     trained.rpn.score.W.array)
    numpy.testing.assert_array_equal(
        again.extractor.layer3[0].bn1.running_mean,
        trained.extractor.layer3[0].bn1.running_mean)
    with pytest.raises(FileNotFoundError, match='none.pth not found'):
        narrow_model(pretrained_model=str(tmp_path / 'none.pth'))
    with pytest.raises(FetchError, match='FASTERRCNN_OFFLINE'):
        narrow_model(pretrained_model='imagenet')
