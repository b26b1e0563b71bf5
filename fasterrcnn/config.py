"""Typed configuration with a strict YAML loader.

Every key, its type, its default and its meaning are written down once, in
:data:`KEYS` (:mod:`fasterrcnn.config_keys`). A configuration file is a YAML
mapping of sections (``model``, ``data``, ``train``, ``eval``), each a
mapping of keys; a key left out keeps its default. For example::

    model:
      fc_size: 1024
    data:
      dir: VOCdevkit/VOC2007
    train:
      lr: 1e-3
      lr_shift_at: [50000]

Loading is strict. An unknown section or key, a value of the wrong type, a
``null`` where none is allowed, a value outside its range, a key given twice
or malformed YAML is a :class:`ConfigError` whose message names the file, the
line and the key (and, for an unknown key, the keys the section allows).
Every error found is listed, one line each.

Overrides (``--set KEY=VALUE`` on the command line) use flat dotted keys and
YAML syntax for the value: ``model.fc_size=256``,
``train.lr_shift_at=[100, 200]``, ``model.pretrained=null``. They are
checked like the file, and an error names the override. A loaded
:class:`Config` is immutable (lists are tuples); :meth:`Config.with_values`
derives a changed one, checked like an override.

Paths (``data.dir``, ``model.pretrained``, ``model.init_from``): a
relative path in a file is relative to that file's folder, as a compose
file's are, so that a config beside its ``mydata/`` works from anywhere;
in an override, relative to the working directory. Both are stored
absolute. The COCO annotation files stay as written: a relative one is
inside ``data.dir`` (:func:`fasterrcnn.data.datasets.annotations_path`).

Numbers: an int is accepted where a float is expected (and stored as a
float), never the reverse; a bool is never a number. ``1e-3`` and ``5E-4``
(no decimal point) read as floats, as in YAML 1.2.

The values are validated by pydantic, in strict mode (see
:mod:`fasterrcnn.config_keys`): a well-kept, typed library whose readable
errors name the bad item, so that this module only says where it was read.
"""

import dataclasses
import os

import pydantic
import yaml

from fasterrcnn import config_yaml
from fasterrcnn.artifacts.fetch import config_path
from fasterrcnn.artifacts.table import CONFIG_NAMES
from fasterrcnn.atomic import atomic_write
from fasterrcnn.config_keys import (KEYS, KEYS_BY_NAME, SECTION_CLASSES,
                                    SECTIONS, STRICT, DataConfig, EvalConfig,
                                    ModelConfig, TrainConfig,
                                    format_config_help, print_config_help,
                                    section_keys)
from fasterrcnn.errors import ConfigError

__all__ = ['ConfigError', 'KEYS', 'KEYS_BY_NAME', 'SECTIONS', 'Config',
           'ModelConfig', 'DataConfig', 'TrainConfig', 'EvalConfig',
           'default_config', 'load_config', 'parse_override', 'dump_config',
           'save_config', 'format_config_help', 'print_config_help']


@pydantic.dataclasses.dataclass(frozen=True, config=STRICT)
class Config(object):
    """A checked configuration: ``config.model.fc_size`` and so on.

    Build one with :func:`load_config` or :func:`default_config`; every value
    has the type documented in :data:`KEYS` (lists as tuples).
    """
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)

    def get(self, name):
        """The value of a dotted key, e.g. ``config.get('model.fc_size')``.
        """
        if name not in KEYS_BY_NAME:
            raise KeyError(name)
        section, field = name.split('.', 1)
        return getattr(getattr(self, section), field)

    def flat(self):
        """``{dotted key: value}`` for every key, in the order of KEYS."""
        return {key.name: self.get(key.name) for key in KEYS}

    def with_values(self, values):
        """A copy with some keys changed, checked like overrides.

        Args:
            values (dict): ``{dotted key: value}``, e.g.
                ``{'model.n_fg_class': 20}``.

        Raises:
            ConfigError: an unknown key or an invalid value.
        """
        flat = self.flat()
        errors = []
        for name, value in values.items():
            source = 'with_values({}={!r})'.format(name, value)
            if _known(name, source, errors) and \
                    _valid(name, value, source, errors):
                flat[name] = value
        _raise_if(errors)
        return _build(flat, 'with_values()')


def default_config():
    """The configuration with every key at its default."""
    return Config()


# --------------------------------------------------------------------------
# Checking: each value where it is read, so that an error can say where


#: The keys whose value is a file or folder, resolved against the config
#: file's folder (or the working directory, for an override).
PATH_KEYS = ('data.dir', 'model.pretrained', 'model.init_from')


def _absolute(name, value, base):
    """``value`` of key ``name`` with a relative path joined to ``base``; a
    name of a known artifact (``model.pretrained: torchvision``, ``data.dir:
    voc2007``) is kept as it is, and becomes its path once the backbone is
    known (:func:`_resolve_names`)."""
    if isinstance(value, str) and value in CONFIG_NAMES.get(name, {}):
        return value
    if name in PATH_KEYS and isinstance(value, str) and value and \
            not os.path.isabs(value):
        return os.path.normpath(os.path.join(base, os.path.expanduser(
            value)))
    return value


def _resolve_names(flat, source):
    """``flat`` with each config name of an artifact replaced by the path it
    is fetched to (:func:`fasterrcnn.artifacts.fetch.config_path`), for the
    config's ``model.backbone``."""
    errors = []
    for name in CONFIG_NAMES:
        try:
            path = config_path(name, flat[name],
                               backbone=flat['model.backbone'])
        except ValueError as e:
            errors.append('{}: {}'.format(source, e))
            continue
        if path is not None:
            flat[name] = path
    _raise_if(errors)
    return flat


def _got(value):
    """A value as an error message shows it, its type in YAML words."""
    if value is None:
        return 'null'
    kinds = ((bool, 'bool'), (int, 'int'), (float, 'float'), (str, 'str'),
             ((list, tuple), 'list'), (dict, 'mapping'))
    kind = next((name for cls, name in kinds if isinstance(value, cls)),
                type(value).__name__)
    text = repr(value)
    return '{} {}'.format(kind, text if len(text) <= 60 else
                          text[:57] + '...')


def _valid(name, value, where, errors):
    """Whether ``value`` suits the key ``name``; if not, appends pydantic's
    findings, each naming ``where``, the key and the bad item."""
    section, field = name.split('.', 1)
    try:
        SECTION_CLASSES[section](**{field: value})
    except pydantic.ValidationError as e:
        for error in e.errors():
            # loc: the field, then list indices and union member tags.
            items = ''.join('[{}]'.format(part) for part in error['loc'][1:]
                            if isinstance(part, int))
            errors.append('{}: {}{}: {}, got {}'.format(
                where, name, items, error['msg'], _got(error['input'])))
        return False
    return True


def _known(name, where, errors):
    """Whether ``name`` is a dotted key; if not, appends an error."""
    section = name.split('.', 1)[0]
    if name in KEYS_BY_NAME:
        return True
    if '.' in name and section in SECTIONS:
        errors.append('{}: {}: unknown key; allowed keys in section {!r}: '
                      '{}'.format(where, name, section, _allowed(section)))
    else:
        errors.append('{}: {}: unknown key; keys are SECTION.KEY with '
                      'SECTION one of: {}'.format(where, name,
                                                  ', '.join(SECTIONS)))
    return False


def _allowed(section):
    return ', '.join(key.field for key in section_keys(section))


def _raise_if(errors):
    if len(errors) == 1:
        raise ConfigError(errors[0])
    if errors:
        raise ConfigError('{} errors in the configuration:\n  {}'.format(
            len(errors), '\n  '.join(errors)))


#: The input each named ``model.pretrained`` was trained on: its
#: ``model.normalize``.
PRETRAINED_NORMALIZE = {'torchvision': 'torchvision', 'caffe': 'caffe'}


def _named_path(key, name, backbone):
    """The path of config name ``name`` for ``backbone``, or None when it
    has none."""
    try:
        return config_path(key, name, backbone=backbone)
    except ValueError:
        return None


def _cross_check(config, source):
    """Checks between keys, on the checked values."""
    m, names = config.model, config.data.label_names
    errors = []
    if m.max_size < m.min_size:
        errors.append('{}: model.max_size ({}) is smaller than '
                      'model.min_size ({})'.format(source, m.max_size,
                                                   m.min_size))
    for name, normalize in PRETRAINED_NORMALIZE.items():
        if m.pretrained is not None and m.normalize != normalize and \
                m.pretrained == _named_path('model.pretrained', name,
                                            m.backbone):
            errors.append('{}: model.pretrained: {} holds weights for '
                          'model.normalize: {}, but model.normalize is {}; '
                          'set model.normalize={}'.format(
                              source, name, normalize, m.normalize,
                              normalize))
    if names is not None and m.n_fg_class is not None and \
            len(names) != m.n_fg_class:
        errors.append('{}: data.label_names has {} names but '
                      'model.n_fg_class is {}'.format(
                          source, len(names), m.n_fg_class))
    _raise_if(errors)


def _build(flat, source):
    """The Config of checked values ``{dotted key: value}``, every key."""
    flat = _resolve_names(dict(flat), source)
    config = Config(**{
        section: SECTION_CLASSES[section](**{
            key.field: flat[key.name] for key in section_keys(section)})
        for section in SECTIONS})
    _cross_check(config, source)
    return config


# --------------------------------------------------------------------------
# Loading


def _read_yaml(text, source):
    try:
        return config_yaml.read(text)
    except yaml.YAMLError as e:
        raise ConfigError(config_yaml.describe_error(source, e)) from None


def _entries(mapping, source, errors, prefix):
    """``(key, value, where the key is, where the value is)`` of a YAML
    mapping; appends an error for each key given twice."""
    for key, mark, first in mapping.twice:
        errors.append('{}: {}{}: given twice (first at line {})'.format(
            config_yaml.where(source, mark), prefix, key, first))
    for key, value in mapping.items():
        key_mark, value_mark = mapping.marks[key]
        yield (key, value, config_yaml.where(source, key_mark),
               config_yaml.where(source, value_mark))


def _read_file(source, flat, errors):
    """Checks a configuration file and puts its values into ``flat``."""
    try:
        with open(source, encoding='utf-8') as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError('config file not found: {}'.format(source)) \
            from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError('cannot read config file {}: {}'.format(
            source, e)) from None
    data, root = _read_yaml(text, source)
    if data is None:
        return
    if not isinstance(data, config_yaml.Mapping):
        errors.append('{}: expected a mapping of sections ({}), got {}'.format(
            config_yaml.where(source, root.start_mark), ', '.join(SECTIONS),
            _got(data)))
        return
    for section, fields, where, value_where in _entries(
            data, source, errors, ''):
        if section not in SECTIONS:
            errors.append('{}: {}: unknown section; allowed sections: '
                          '{}'.format(where, section, ', '.join(SECTIONS)))
        elif isinstance(fields, config_yaml.Mapping):
            for field, value, where, value_where in _entries(
                    fields, source, errors, section + '.'):
                name = '{}.{}'.format(section, field)
                if _known(name, where, errors) and \
                        _valid(name, value, value_where, errors):
                    flat[name] = _absolute(name, value, os.path.dirname(
                        os.path.abspath(source)))
        elif fields is not None:  # (an empty section keeps the defaults)
            errors.append('{}: {}: section must be a mapping of keys, got '
                          '{}'.format(value_where, section, _got(fields)))


def parse_override(text):
    """Splits ``'KEY=VALUE'`` into the key and the YAML-parsed value.

    Raises:
        ConfigError: no ``=``, or the value is not valid YAML.
    """
    source = 'override {!r}'.format(text)
    name, sep, raw = text.partition('=')
    name = name.strip()
    if not sep or not name:
        raise ConfigError('{}: expected KEY=VALUE, e.g. '
                          'model.fc_size=256'.format(source))
    return name, _read_yaml(raw, source)[0]


def _read_override(text, flat, errors):
    source = 'override {!r}'.format(text)
    try:
        name, value = parse_override(text)
    except ConfigError as e:
        errors.append(str(e))
        return
    if _known(name, source, errors) and _valid(name, value, source, errors):
        flat[name] = _absolute(name, value, os.getcwd())


def load_config(path, overrides=()):
    """Loads and checks a configuration file, then applies overrides.

    Args:
        path (str or None): a YAML file (see the module docstring); None
            starts from the defaults.
        overrides (sequence of str): ``'section.key=value'`` strings, the
            value in YAML syntax, applied in order after the file.

    Returns:
        Config: the checked configuration.

    Raises:
        ConfigError: the file is missing, unreadable or malformed, or a key
            or value of the file or of an override is invalid. Every error
            found is listed, each with its file and line (or its override).
    """
    flat = {key.name: key.default for key in KEYS}
    errors = []
    source = 'defaults'
    if path is not None:
        source = os.fspath(path)
        _read_file(source, flat, errors)
    for text in overrides:
        _read_override(text, flat, errors)
    _raise_if(errors)
    if overrides:
        source += ' with overrides'
    return _build(flat, source)


# --------------------------------------------------------------------------
# Writing


def dump_config(config):
    """The configuration as YAML text: every key, in the order of KEYS."""
    lines = ['# fasterrcnn configuration (all keys; see --help-config)']
    for section in SECTIONS:
        lines.append('{}:'.format(section))
        for key in section_keys(section):
            lines.append('  {}: {}'.format(
                key.field, config_yaml.flow(config.get(key.name))))
    return '\n'.join(lines) + '\n'


def save_config(config, path, comments=()):
    """Writes the resolved configuration as YAML; :func:`load_config` reads
    it back to an equal :class:`Config`. ``comments``: lines (each starting
    with ``#``) written after it, e.g. a run's history of changes."""
    text = dump_config(config) + ''.join(line + '\n' for line in comments)
    with atomic_write(path, binary=False) as f:
        f.write(text)
