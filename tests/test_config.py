import dataclasses
import io
import os

import pydantic
import pytest

from fasterrcnn import config as config_module
from fasterrcnn import config_keys
from fasterrcnn.config import (ConfigError, default_config, load_config,
                               save_config)


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
            adapter = pydantic.TypeAdapter(key.type,
                                           config=config_keys.STRICT)
            assert adapter.validate_python(key.default) == key.default, \
                key.name


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
    assert 'model.fc_sizes: unknown key' in msg
    assert path + ':3:3:' in msg
    assert "allowed keys in section 'model'" in msg
    for field in ('n_fg_class', 'fc_size', 'min_size', 'dropout'):
        assert field in msg


def test_unknown_section(tmp_path):
    path = write(tmp_path, 'train:\n  lr: 0.1\nsolver:\n  lr: 0.1\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert 'solver: unknown section' in msg and path + ':3:' in msg
    assert 'model, data, train, eval' in msg


def test_wrong_type(tmp_path):
    path = write(tmp_path, 'train:\n  seed: 1\n  iterations: many\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert path + ':3:' in msg
    assert 'train.iterations' in msg
    assert 'should be a valid integer' in msg and "got str 'many'" in msg


@pytest.mark.parametrize('text, where, expected, got', [
    ('train:\n  lr: 0.1\n  seed: 1.5\n', '3:9: train.seed',
     'should be a valid integer', 'got float 1.5'),
    ('model:\n  dropout: 1\n', '2:12: model.dropout',
     'should be a valid boolean', 'got int 1'),
    ('train:\n  lr: true\n', '2:7: train.lr', 'should be a valid number',
     'got bool True'),
    ('model:\n  fc_size: true\n', '2:12: model.fc_size',
     'should be a valid integer', 'got bool True'),
    ('train:\n  lr_shift_at: 5\n', '2:16: train.lr_shift_at',
     'should be a valid list', 'got int 5'),
    ('train:\n  lr_shift_at: [5, x]\n', '2:16: train.lr_shift_at[1]',
     'should be a valid integer', "got str 'x'"),
    ('model:\n  extractor_channels: [1, 2]\n',
     '2:23: model.extractor_channels', 'at least 5 items',
     'got list [1, 2]'),
    ('model:\n  extractor_channels: [1, 2, 3, 4, 5, 6]\n',
     '2:23: model.extractor_channels', 'at most 5 items', 'got list'),
    ('eval:\n  every: soon\n', '2:10: eval.every',
     'should be an int or a list of ints', "got str 'soon'"),
    ('eval:\n  every: [5, x]\n', '2:10: eval.every[1]',
     'should be a valid integer', "got str 'x'"),
    ('eval:\n  every: 0\n', '2:10: eval.every',
     'greater than or equal to 1', 'got int 0'),
    ('model:\n  normalize: pytorch\n', '2:14: model.normalize',
     "should be 'torchvision' or 'caffe'", "got str 'pytorch'"),
    ('model:\n  fc_size: 0\n', '2:12: model.fc_size',
     'should be greater than or equal to 1', 'got int 0'),
    ('train:\n  lr: -0.1\n', '2:7: train.lr', 'should be greater than 0',
     'got float -0.1'),
    ('train:\n  momentum: 1.5\n', '2:13: train.momentum',
     'should be less than or equal to 1', 'got float 1.5'),
    ('train:\n  lr: .nan\n', '2:7: train.lr', 'should be greater than 0',
     'got float nan'),
    ('data:\n  label_names: {a: 1}\n', '2:16: data.label_names',
     'should be a valid list', 'got mapping'),
    ('data:\n  label_names: !!set {a, b}\n', '2:16: data.label_names',
     'should be a valid list', 'got set'),
    ('data:\n  train_split: ""\n', '2:16: data.train_split',
     'at least 1 character', "got str ''"),
])
def test_wrong_types(tmp_path, text, where, expected, got):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert expected in msg and got in msg and path + ':' in msg
    assert msg.startswith('{}:{}: '.format(path, where)), msg
    assert len(msg.splitlines()) == 1, msg


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
    assert 'should be a valid integer' in msg and path + ':2:' in msg


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
    assert 'model.fc_size: given twice (first at line 2)' in str(e.value)


def test_top_level_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match='mapping of sections'):
        load_config(write(tmp_path, '- model\n'))
    with pytest.raises(ConfigError, match='model: section must be a '
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
    # A path on the command line is relative to the working directory.
    assert load_config(None, ['model.pretrained=a=b']).model.pretrained \
        == os.path.join(os.getcwd(), 'a=b')


@pytest.mark.parametrize('override, parts', [
    ('model.fc_size=big', ['model.fc_size', 'should be a valid integer',
                           "got str 'big'"]),
    ('model.fc_sise=1', ['model.fc_sise: unknown key', 'allowed keys',
                         'fc_size']),
    ('modle.fc_size=1', ['modle.fc_size: unknown key', 'SECTION.KEY']),
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
    with pytest.raises(ConfigError, match='model.n_fg_class: Input should '
                                          'be a valid integer'):
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


def test_duplicate_section_and_unhashable_key(tmp_path):
    path = write(tmp_path, 'model:\n  fc_size: 1\nmodel:\n  fc_size: 2\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value) == \
        '{}:3:1: model: given twice (first at line 1)'.format(path)
    path = write(tmp_path, 'model:\n  [a, b]: 1\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert path + ':2:' in msg and 'unhashable key' in msg
    assert len(msg.splitlines()) == 1


def test_each_listed_error_is_one_line(tmp_path):
    path = write(tmp_path, 'model:\n  fc_size: x\n  bogus: 1\n'
                           'train:\n  lr: y\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    lines = str(e.value).splitlines()
    assert lines[0] == '3 errors in the configuration:'
    assert [line.split(': ', 2)[1] for line in lines[1:]] == \
        ['model.fc_size', 'model.bogus', 'train.lr']


def test_a_later_value_does_not_hide_an_invalid_one(tmp_path):
    # Every value given is checked, even one that a later one replaces.
    path = write(tmp_path, 'train:\n  seed: x\n')
    with pytest.raises(ConfigError) as e:
        load_config(path, ['train.seed=1'])
    assert path + ':2:9: train.seed' in str(e.value)
    with pytest.raises(ConfigError, match="override 'train.seed=-1'"):
        load_config(None, ['train.seed=-1', 'train.seed=1'])


def test_huge_int_for_a_float_is_an_error(tmp_path):
    path = write(tmp_path, 'train:\n  lr: 1{}\n'.format('0' * 400))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert path + ':2:7: train.lr: Input should be a valid number' in msg
    assert len(msg) < 300


def test_with_values_takes_tuples_and_stores_tuples():
    config = default_config().with_values({
        'train.lr_shift_at': [10, 20], 'eval.every': (30,),
        'model.anchor_scales': (4, 8.0)})
    assert config.train.lr_shift_at == (10, 20)
    assert config.eval.every == (30,)
    assert config.model.anchor_scales == (4.0, 8.0)
    assert all(type(s) is float for s in config.model.anchor_scales)
    assert config.with_values(config.flat()) == config


def test_section_classes_validate_and_are_frozen():
    model = config_module.ModelConfig(fc_size=8, extractor_channels=[1] * 5)
    assert model.extractor_channels == (1,) * 5
    with pytest.raises(pydantic.ValidationError):
        config_module.ModelConfig(fc_size='8')
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.fc_size = 3
    config = config_module.Config(model=model)
    assert config.model.fc_size == 8 and config.train == default_config().train


def test_help_names_every_kind_of_type():
    text = config_module.format_config_help()
    for line in [
            'model.extractor_channels  (list[int] of 5, default '
            '[64, 128, 256, 512, 512])',
            "model.normalize  ('torchvision' | 'caffe', default torchvision)",
            'data.label_names  (list[str] or null, default null)',
            'train.lr  (float, default 0.001)',
            'model.dropout  (bool, default false)',
            'eval.every  (int or list[int], default [50000, 70000])']:
        assert '  ' + line + '\n' in text, line
    assert max(len(line) for line in text.splitlines()) <= 79


def test_plain_pyyaml_is_left_alone():
    # The loader's YAML 1.2 floats are its own, not yaml.SafeLoader's.
    import yaml
    assert yaml.safe_load('a: 1e-3') == {'a': '1e-3'}
    assert config_module.parse_override('a.b=1e-3') == ('a.b', 0.001)
