import dataclasses
import io

import pytest

from fasterrcnn import config as config_module
from fasterrcnn.config import ConfigError
from fasterrcnn.config import default_config
from fasterrcnn.config import load_config
from fasterrcnn.config import save_config


def write(tmp_path, text, name='c.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_defaults():
    config = default_config()
    assert config.model.extractor_channels == (64, 128, 256, 512, 512)
    assert config.model.fc_size == 4096
    assert config.model.n_fg_class is None
    assert config.model.normalize == 'torchvision'
    assert config.model.freeze_conv12 is True
    assert config.data.train_split == 'trainval'
    assert config.train.lr == 1e-3
    assert config.train.weight_decay == 5e-4
    assert config.train.keep_snapshots == 3
    assert config.eval.use_07_metric is True
    assert config.get('train.roi_sigma') == 1.0
    assert set(config.flat()) == set(config_module.KEYS_BY_NAME)


def test_every_key_has_help_and_a_valid_default():
    for key in config_module.KEYS:
        assert key.help, key.name
        assert key.section in config_module.SECTIONS
        if key.default is None:
            assert key.nullable, key.name
        else:
            assert key.type.check(key.default) == key.default, key.name


def test_load_values(tmp_path):
    path = write(tmp_path, """
model:
  n_fg_class: 3
  extractor_channels: [4, 4, 8, 8, 8]
  fc_size: 32
  normalize: caffe
data:
  dir: some/where
  label_names: [a, b, c]
train:
  lr: 1e-2          # YAML 1.2 float without a dot
  weight_decay: 0   # an int where a float is expected
  lr_shift_at: [10, 20]
eval:
  every: 5
""")
    config = load_config(path)
    assert config.model.n_fg_class == 3
    assert config.model.extractor_channels == (4, 4, 8, 8, 8)
    assert config.model.normalize == 'caffe'
    assert config.data.label_names == ('a', 'b', 'c')
    assert config.train.lr == 0.01
    assert type(config.train.weight_decay) is float
    assert config.train.weight_decay == 0.0
    assert config.train.lr_shift_at == (10, 20)
    assert config.eval.every == 5
    # untouched keys keep their defaults
    assert config.model.max_size == 1000
    assert config.train.momentum == 0.9


def test_empty_file_and_empty_section(tmp_path):
    assert load_config(write(tmp_path, '')) == default_config()
    assert load_config(write(tmp_path, 'model:\n')) == default_config()
    assert load_config(None) == default_config()


def test_unknown_key(tmp_path):
    path = write(tmp_path, 'model:\n  fc_size: 16\n  fc_sizes: 32\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "'fc_sizes'" in msg
    assert path + ':3:' in msg
    assert 'allowed keys' in msg
    for field in ('n_fg_class', 'fc_size', 'min_size', 'dropout'):
        assert field in msg


def test_unknown_section(tmp_path):
    path = write(tmp_path, 'train:\n  lr: 0.1\nsolver:\n  lr: 0.1\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "'solver'" in msg and path + ':3:' in msg
    assert 'model, data, train, eval' in msg


def test_wrong_type(tmp_path):
    path = write(tmp_path, 'train:\n  seed: 1\n  iterations: many\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert path + ':3:' in msg
    assert 'train.iterations' in msg
    assert 'expected int' in msg and "got str 'many'" in msg


@pytest.mark.parametrize('text, expected, got', [
    ('train:\n  lr: 0.1\n  seed: 1.5\n', 'expected int', 'got float'),
    ('model:\n  dropout: 1\n', 'expected bool', 'got int'),
    ('train:\n  lr: true\n', 'expected float', 'got bool'),
    ('model:\n  fc_size: true\n', 'expected int', 'got bool'),
    ('train:\n  lr_shift_at: 5\n', 'expected list[int]', 'got int'),
    ('train:\n  lr_shift_at: [5, x]\n', 'item 1: expected int', 'got str'),
    ('model:\n  extractor_channels: [1, 2]\n', 'expected 5 items', 'got 2'),
    ('eval:\n  every: soon\n', 'expected int or list[int]', 'got str'),
    ('model:\n  normalize: pytorch\n', "'torchvision' | 'caffe'",
     "got 'pytorch'"),
    ('model:\n  fc_size: 0\n', 'expected an int >= 1', 'got 0'),
    ('train:\n  lr: -0.1\n', 'expected a float > 0', 'got -0.1'),
    ('data:\n  label_names: {a: 1}\n', 'expected list[str]', 'got mapping'),
])
def test_wrong_types(tmp_path, text, expected, got):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert expected in msg and got in msg and path + ':' in msg


def test_int_for_float_but_not_float_for_int(tmp_path):
    config = load_config(write(tmp_path, 'train:\n  lr: 1\n'))
    assert config.train.lr == 1.0 and type(config.train.lr) is float


def test_null_only_where_allowed(tmp_path):
    config = load_config(write(tmp_path, 'model:\n  pretrained: null\n'
                                         'eval:\n  n_images: ~\n'))
    assert config.model.pretrained is None and config.eval.n_images is None
    path = write(tmp_path, 'model:\n  fc_size: null\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert 'model.fc_size' in msg and 'got null' in msg
    assert 'expected int' in msg and path + ':2:' in msg


def test_all_errors_listed(tmp_path):
    path = write(tmp_path, 'model:\n  fc_size: x\n  bogus: 1\n'
                           'train:\n  lr: y\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert '3 errors' in msg
    assert path + ':2:' in msg and path + ':3:' in msg and path + ':5:' in msg


def test_duplicate_key(tmp_path):
    path = write(tmp_path, 'model:\n  fc_size: 1\n  fc_size: 2\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert 'given twice' in str(e.value) and path + ':3:' in str(e.value)


def test_top_level_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match='mapping of sections'):
        load_config(write(tmp_path, '- model\n'))
    with pytest.raises(ConfigError, match="section 'model' must be a "
                                          'mapping'):
        load_config(write(tmp_path, 'model: 3\n'))


def test_missing_file(tmp_path):
    path = str(tmp_path / 'nope.yaml')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert 'not found' in str(e.value) and path in str(e.value)


def test_malformed_yaml(tmp_path):
    path = write(tmp_path, 'model:\n  fc_size: 1\n  min_size: [1, 2\n'
                           'train:\n  lr: 0.1\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert 'malformed YAML' in msg and path + ':' in msg
    # PyYAML reports where it noticed the problem, a line >= 3
    line = int(msg.split(path + ':', 1)[1].split(':', 1)[0])
    assert line >= 3


def test_malformed_yaml_tab(tmp_path):
    path = write(tmp_path, 'model:\n\tfc_size: 1\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert 'malformed YAML' in str(e.value) and path + ':2:' in str(e.value)


def test_overrides(tmp_path):
    path = write(tmp_path, 'model:\n  fc_size: 64\n')
    config = load_config(path, [
        'model.fc_size=256', 'train.lr_shift_at=[100, 200]',
        'model.pretrained=weights/vgg16.npz', 'train.lr=5e-4',
        'eval.every=[7]', 'data.label_names=[x, y]',
        'model.n_fg_class=2', 'model.pretrained=null'])
    assert config.model.fc_size == 256
    assert config.train.lr_shift_at == (100, 200)
    assert config.train.lr == 5e-4
    assert config.eval.every == (7,)
    assert config.data.label_names == ('x', 'y')
    assert config.model.pretrained is None  # the later override wins
    assert load_config(None, ['model.pretrained=a=b']).model.pretrained \
        == 'a=b'


@pytest.mark.parametrize('override, parts', [
    ('model.fc_size=big', ['model.fc_size', 'expected int', "got str 'big'"]),
    ('model.fc_sise=1', ["unknown key 'model.fc_sise'", 'allowed keys',
                         'fc_size']),
    ('modle.fc_size=1', ["unknown key 'modle.fc_size'", 'SECTION.KEY']),
    ('model.fc_size', ['expected KEY=VALUE']),
    ('model.fc_size=null', ['got null']),
    ('train.lr_shift_at=[1, 2', ['malformed YAML']),
])
def test_override_errors(override, parts):
    with pytest.raises(ConfigError) as e:
        load_config(None, [override])
    msg = str(e.value)
    assert 'override {!r}'.format(override) in msg
    for part in parts:
        assert part in msg


def test_parse_override():
    assert config_module.parse_override('a.b=1') == ('a.b', 1)
    assert config_module.parse_override(' a.b = x y ') == ('a.b', 'x y')
    assert config_module.parse_override('a.b=') == ('a.b', None)
    assert config_module.parse_override('a.b=[1, 2]') == ('a.b', [1, 2])


def test_cross_checks(tmp_path):
    with pytest.raises(ConfigError, match='max_size'):
        load_config(None, ['model.min_size=800', 'model.max_size=700'])
    with pytest.raises(ConfigError, match='label_names has 2 names'):
        load_config(None, ['model.n_fg_class=3', 'data.label_names=[a, b]'])


def test_save_load_round_trip(tmp_path):
    config = load_config(None, [
        'model.n_fg_class=2', 'data.label_names=["null", "yes"]',
        'data.dir="with: colon"', 'train.lr=1e-10', 'eval.every=3',
        'model.pretrained=w.npz', 'train.weight_decay=0'])
    assert config.data.label_names == ('null', 'yes')
    path = str(tmp_path / 'saved.yaml')
    save_config(config, path)
    again = load_config(path)
    assert again == config
    assert again.flat() == config.flat()
    assert load_config(path, []).train.lr == 1e-10


def test_save_load_defaults(tmp_path):
    path = str(tmp_path / 'defaults.yaml')
    save_config(default_config(), path)
    assert load_config(path) == default_config()


def test_config_is_immutable_and_with_values():
    config = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model.fc_size = 3
    changed = config.with_values({'model.n_fg_class': 20})
    assert changed.model.n_fg_class == 20
    assert config.model.n_fg_class is None
    with pytest.raises(ConfigError, match='expected int'):
        config.with_values({'model.n_fg_class': 'twenty'})
    with pytest.raises(ConfigError, match='unknown key'):
        config.with_values({'model.classes': 20})


def test_help_table_lists_every_key():
    text = config_module.format_config_help()
    for key in config_module.KEYS:
        assert key.name in text
    assert 'model.fc_size  (int, default 4096)' in text
    assert 'model.pretrained  (path or null, default null)' in text
    out = io.StringIO()
    config_module.print_config_help(out)
    assert out.getvalue() == text


def test_unsafe_tag_and_several_documents(tmp_path):
    path = write(tmp_path, 'model:\n  fc_size: !!python/name:os.system\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert path + ':2:' in str(e.value)
    with pytest.raises(ConfigError, match='malformed YAML'):
        load_config(write(tmp_path, 'model: {}\n---\ntrain: {}\n'))


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError, match='cannot read config file'):
        load_config(str(tmp_path))


@pytest.mark.parametrize('where', ['file', 'override'])
def test_yaml_that_would_run_code_is_refused(tmp_path, where):
    marker = tmp_path / 'ran'
    value = '!!python/object/apply:os.system ["touch {}"]'.format(marker)
    if where == 'file':
        path = write(tmp_path, 'model:\n  fc_size: {}\n'.format(value))
        overrides = []
    else:
        path, overrides = None, ['model.fc_size=' + value]
    with pytest.raises(ConfigError) as e:
        load_config(path, overrides)
    assert not marker.exists()
    assert len(str(e.value).splitlines()) == 1, str(e.value)
    assert 'model.fc_size' in str(e.value) or (path or '') in str(e.value)
