"""Typed configuration with a strict YAML loader.

Every key, its type, its default and its meaning are written down once, in
:data:`KEYS`. A configuration file is a YAML mapping of sections (``model``,
``data``, ``train``, ``eval``), each a mapping of keys; a key left out keeps
its default. For example::

    model:
      fc_size: 1024
    data:
      dir: VOCdevkit/VOC2007
    train:
      iterations: 70000
      lr_shift_at: [50000]

Loading is strict. An unknown section or key, a value of the wrong type, a
``null`` where none is allowed, a value outside its range, a key given twice
or malformed YAML is a :class:`ConfigError` whose message names the file, the
line and the key (and, for an unknown key, the keys the section allows).

Overrides (``--set KEY=VALUE`` on the command line) use flat dotted keys and
YAML scalar syntax for the value: ``model.fc_size=256``,
``train.lr_shift_at=[100, 200]``, ``model.pretrained=null``. They are
checked like the file, and an error names the override.

Numbers: an int is accepted where a float is expected (and stored as a
float), never the reverse; a bool is never a number. Unlike plain PyYAML,
``1e-3`` and ``5E-4`` (no decimal point) read as floats, as in YAML 1.2.

Lists are stored as tuples, so that a loaded :class:`Config` is immutable; use
:meth:`Config.with_values` to derive a changed one (checked like an
override).
"""

import dataclasses
import io
import os
import re
import sys
import textwrap

import yaml

from fasterrcnn.atomic import atomic_write


class ConfigError(ValueError):
    """An invalid configuration: the message names the source, line and key.
    """


# --------------------------------------------------------------------------
# Value types


class _Mismatch(Exception):
    """Raised by a type's ``check``; the message says what was expected."""


def _yaml_type_name(value):
    """The name of a loaded value's type, in YAML words."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, int):
        return 'int'
    if isinstance(value, float):
        return 'float'
    if isinstance(value, str):
        return 'str'
    if isinstance(value, (list, tuple)):
        return 'list'
    if isinstance(value, dict):
        return 'mapping'
    return type(value).__name__


def _got(value):
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + '...'
    if value is None:
        return 'null'
    return '{} {}'.format(_yaml_type_name(value), text)


class _Type(object):
    """A value type: ``check`` returns the stored value or raises
    :class:`_Mismatch`; ``name`` is what the documentation calls it."""

    name = '?'

    def check(self, value):
        raise NotImplementedError

    def dump(self, value):
        """The stored value as plain YAML data."""
        return value


class _Int(_Type):
    name = 'int'

    def __init__(self, minimum=None):
        self.minimum = minimum

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Mismatch('expected int, got {}'.format(_got(value)))
        if self.minimum is not None and value < self.minimum:
            raise _Mismatch('expected an int >= {}, got {}'.format(
                self.minimum, value))
        return int(value)


class _Float(_Type):
    name = 'float'

    def __init__(self, minimum=None, maximum=None, min_exclusive=False):
        self.minimum = minimum
        self.maximum = maximum
        self.min_exclusive = min_exclusive

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Mismatch('expected float, got {}'.format(_got(value)))
        value = float(value)
        if self.minimum is not None:
            if self.min_exclusive and not value > self.minimum:
                raise _Mismatch('expected a float > {}, got {}'.format(
                    self.minimum, value))
            if not self.min_exclusive and not value >= self.minimum:
                raise _Mismatch('expected a float >= {}, got {}'.format(
                    self.minimum, value))
        if self.maximum is not None and not value <= self.maximum:
            raise _Mismatch('expected a float <= {}, got {}'.format(
                self.maximum, value))
        return value


class _Bool(_Type):
    name = 'bool'

    def check(self, value):
        if not isinstance(value, bool):
            raise _Mismatch('expected bool, got {}'.format(_got(value)))
        return value


class _Str(_Type):

    def __init__(self, choices=None, name='str'):
        self.choices = choices
        self.name = name if choices is None else ' | '.join(
            repr(c) for c in choices)

    def check(self, value):
        if not isinstance(value, str):
            raise _Mismatch('expected {}, got {}'.format(
                self.name if self.choices is None else 'one of ' + self.name,
                _got(value)))
        if self.choices is not None and value not in self.choices:
            raise _Mismatch('expected one of {}, got {!r}'.format(
                self.name, value))
        if not value:
            raise _Mismatch('expected a non-empty {}, got \'\''.format(
                self.name))
        return value


class _List(_Type):

    def __init__(self, item, length=None):
        self.item = item
        self.length = length
        self.name = 'list[{}]'.format(item.name)
        if length is not None:
            self.name += ' of {}'.format(length)

    def check(self, value):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch('expected {}, got {}'.format(
                self.name, _got(value)))
        if self.length is not None and len(value) != self.length:
            raise _Mismatch('expected {} items, got {}'.format(
                self.length, len(value)))
        out = []
        for i, item in enumerate(value):
            try:
                out.append(self.item.check(item))
            except _Mismatch as e:
                raise _Mismatch('item {}: {}'.format(i, e)) from None
        return tuple(out)

    def dump(self, value):
        return [self.item.dump(v) for v in value]


class _IntOrList(_Type):
    """An int, or a list of ints."""

    def __init__(self, item):
        self.item = item
        self.list = _List(item)
        self.name = '{} or {}'.format(item.name, self.list.name)

    def check(self, value):
        if isinstance(value, (list, tuple)):
            return self.list.check(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return self.item.check(value)
        raise _Mismatch('expected {}, got {}'.format(self.name, _got(value)))

    def dump(self, value):
        if isinstance(value, (list, tuple)):
            return self.list.dump(value)
        return value


INT = _Int()
POS_INT = _Int(minimum=1)
NONNEG_INT = _Int(minimum=0)
FLOAT = _Float()
POS_FLOAT = _Float(minimum=0.0, min_exclusive=True)
NONNEG_FLOAT = _Float(minimum=0.0)
BOOL = _Bool()
STR = _Str()
PATH = _Str(name='path')


# --------------------------------------------------------------------------
# The keys: the one place where each is documented


@dataclasses.dataclass(frozen=True)
class Key(object):
    """One configuration key.

    Attributes:
        name (str): dotted ``section.key``.
        type (_Type): the value type.
        default: the default (a tuple for lists).
        help (str): what the key means.
        nullable (bool): whether ``null`` is allowed.
    """
    name: str
    type: _Type
    default: object
    help: str
    nullable: bool = False

    @property
    def section(self):
        return self.name.split('.', 1)[0]

    @property
    def field(self):
        return self.name.split('.', 1)[1]

    @property
    def type_name(self):
        return self.type.name + (' or null' if self.nullable else '')


SECTIONS = ('model', 'data', 'train', 'eval')

KEYS = (
    # model
    Key('model.n_fg_class', POS_INT, None,
        'number of foreground classes; null: the length of '
        'data.label_names, or the data set\'s own class count',
        nullable=True),
    Key('model.extractor_channels', _List(POS_INT, 5),
        (64, 128, 256, 512, 512),
        'output channels of the five VGG16 conv blocks (VGG16: 64, 128, '
        '256, 512, 512; smaller for tests)'),
    Key('model.fc_size', POS_INT, 4096,
        'width of the two fully connected layers of the RoI head'),
    Key('model.min_size', POS_INT, 600,
        'images are scaled so that their shorter side has this many '
        'pixels, unless the longer side would then exceed model.max_size'),
    Key('model.max_size', POS_INT, 1000,
        'upper bound on the longer image side after scaling'),
    Key('model.normalize', _Str(choices=('torchvision', 'caffe')),
        'torchvision',
        'input normalisation: \'torchvision\' (RGB in [0, 1], ImageNet '
        'mean/std) or \'caffe\' (BGR in [0, 255] minus the mean)'),
    Key('model.pretrained', PATH, None,
        'ImageNet VGG16 weights (npz) to start the extractor and head from; '
        'null: random initialisation', nullable=True),
    Key('model.anchor_scales', _List(POS_FLOAT), (8.0, 16.0, 32.0),
        'anchor sizes in units of the stride (16 px): 8, 16, 32 give 128, '
        '256 and 512 px anchors'),
    Key('model.ratios', _List(POS_FLOAT), (0.5, 1.0, 2.0),
        'anchor aspect ratios (height / width)'),
    Key('model.rpn_channels', POS_INT, None,
        'channels of the RPN\'s 3x3 conv; null: 512, or the last block\'s '
        'width when that is smaller', nullable=True),
    Key('model.freeze_conv12', BOOL, True,
        'keep the conv1 and conv2 blocks fixed during training'),
    Key('model.bias_lr_x2', BOOL, True,
        'biases learn at twice the learning rate and get no weight decay'),
    Key('model.dropout', BOOL, False,
        'dropout after the fully connected layers of the RoI head'),
    # data
    Key('data.dir', PATH, None,
        'data set directory in the VOC layout (e.g. VOCdevkit/VOC2007); '
        'needed for training and evaluation', nullable=True),
    Key('data.train_split', STR, 'trainval',
        'image set used for training (ImageSets/Main/<split>.txt)'),
    Key('data.test_split', STR, 'test',
        'image set used for evaluation'),
    Key('data.label_names', _List(STR), None,
        'names of the foreground classes, label i = name i; null: the data '
        'set\'s own (the 20 VOC classes for VOC)', nullable=True),
    Key('data.use_difficult', BOOL, False,
        'train on objects marked difficult too'),
    Key('data.flip', BOOL, True,
        'random horizontal flips of the training images'),
    # train
    Key('train.iterations', POS_INT, 70000,
        'number of updates (one image each)'),
    Key('train.lr', POS_FLOAT, 1e-3,
        'initial learning rate'),
    Key('train.momentum', _Float(minimum=0.0, maximum=1.0), 0.9,
        'momentum of MomentumSGD'),
    Key('train.weight_decay', NONNEG_FLOAT, 5e-4,
        'L2 weight decay'),
    Key('train.lr_shift_at', _List(POS_INT), (50000,),
        'iterations after which the learning rate is multiplied by '
        'train.lr_shift_factor'),
    Key('train.lr_shift_factor', POS_FLOAT, 0.1,
        'factor applied to the learning rate at each train.lr_shift_at'),
    Key('train.seed', NONNEG_INT, 0,
        'seed of the weight initialisation, data order, augmentation and '
        'target sampling'),
    Key('train.snapshot_every', POS_INT, 10000,
        'iterations between trainer snapshots (one is also written at the '
        'last iteration)'),
    Key('train.keep_snapshots', POS_INT, 3,
        'number of newest snapshots kept on disk'),
    Key('train.log_every', POS_INT, 20,
        'iterations between log lines'),
    Key('train.rpn_sigma', POS_FLOAT, 3.0,
        'sigma of the smooth L1 localisation loss of the RPN'),
    Key('train.roi_sigma', POS_FLOAT, 1.0,
        'sigma of the smooth L1 localisation loss of the RoI head'),
    # eval
    Key('eval.every', _IntOrList(POS_INT), (50000, 70000),
        'when to evaluate on data.test_split: an int is an interval in '
        'iterations, a list names the iterations'),
    Key('eval.use_07_metric', BOOL, True,
        'PASCAL VOC2007 11-point AP (false: area under the curve)'),
    Key('eval.n_images', POS_INT, None,
        'evaluate on the first n test images only; null: all',
        nullable=True),
)

KEYS_BY_NAME = {key.name: key for key in KEYS}


def _section_keys(section):
    return [key for key in KEYS if key.section == section]


# --------------------------------------------------------------------------
# The config objects


def _make_section_class(section):
    fields = [(key.field, object, dataclasses.field(default=key.default))
              for key in _section_keys(section)]
    cls = dataclasses.make_dataclass(
        section.capitalize() + 'Config', fields, frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = 'The ``{}.*`` keys; see :data:`KEYS`.'.format(section)
    return cls


ModelConfig = _make_section_class('model')
DataConfig = _make_section_class('data')
TrainConfig = _make_section_class('train')
EvalConfig = _make_section_class('eval')

_SECTION_CLASSES = {
    'model': ModelConfig, 'data': DataConfig,
    'train': TrainConfig, 'eval': EvalConfig,
}


@dataclasses.dataclass(frozen=True)
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

    def to_dict(self):
        """Nested plain data (lists, not tuples), ready for YAML."""
        out = {}
        for key in KEYS:
            value = self.get(key.name)
            out.setdefault(key.section, {})[key.field] = (
                None if value is None else key.type.dump(value))
        return out

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
            key = _lookup_key(name, source, errors)
            if key is not None:
                checked = _check_value(key, value, source, errors)
                if checked is not _INVALID:
                    flat[name] = checked
        _raise_if(errors)
        return _build(flat, 'with_values()')


def default_config():
    """The configuration with every key at its default."""
    return Config()


# --------------------------------------------------------------------------
# Loading


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads YAML 1.2 floats without a dot (1e-3)."""


_FLOAT_RE = re.compile(r'''^[-+]?(?:
      [0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
    | \.[0-9_]+(?:[eE][-+]?[0-9]+)?
    | [0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    | \.(?:inf|Inf|INF)
    | \.(?:nan|NaN|NAN)
    )$''', re.X)

# Replace the float resolver of SafeLoader on this subclass only.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag != 'tag:yaml.org,2002:float']
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    'tag:yaml.org,2002:float', _FLOAT_RE, list('-+0123456789.'))

_INVALID = object()


def _where(source, node):
    if node is None:
        return source
    mark = node.start_mark
    return '{}:{}:{}'.format(source, mark.line + 1, mark.column + 1)


def _raise_if(errors):
    if not errors:
        return
    if len(errors) == 1:
        raise ConfigError(errors[0])
    raise ConfigError('{} errors in the configuration:\n  {}'.format(
        len(errors), '\n  '.join(errors)))


def _allowed(section):
    return ', '.join(key.field for key in _section_keys(section))


def _lookup_key(name, source, errors):
    """The Key of a dotted name, or None after appending an error."""
    if name in KEYS_BY_NAME:
        return KEYS_BY_NAME[name]
    section = name.split('.', 1)[0]
    if '.' in name and section in SECTIONS:
        errors.append('{}: unknown key {!r} in section {!r}; allowed keys: '
                      '{}'.format(source, name, section, _allowed(section)))
    else:
        errors.append('{}: unknown key {!r}; keys are SECTION.KEY with '
                      'SECTION one of: {}'.format(
                          source, name, ', '.join(SECTIONS)))
    return None


def _check_value(key, value, where, errors):
    if value is None:
        if key.nullable:
            return None
        errors.append('{}: {}: expected {}, got null (null is not allowed '
                      'here)'.format(where, key.name, key.type_name))
        return _INVALID
    try:
        return key.type.check(value)
    except _Mismatch as e:
        errors.append('{}: {}: {}'.format(where, key.name, e))
        return _INVALID


def _cross_check(flat, source, errors):
    """Checks between keys, on the resolved values."""
    if flat['model.max_size'] < flat['model.min_size']:
        errors.append('{}: model.max_size ({}) is smaller than '
                      'model.min_size ({})'.format(
                          source, flat['model.max_size'],
                          flat['model.min_size']))
    names = flat['data.label_names']
    n_fg_class = flat['model.n_fg_class']
    if names is not None and n_fg_class is not None and \
            len(names) != n_fg_class:
        errors.append('{}: data.label_names has {} names but '
                      'model.n_fg_class is {}'.format(
                          source, len(names), n_fg_class))


def _build(flat, source):
    errors = []
    _cross_check(flat, source, errors)
    _raise_if(errors)
    sections = {}
    for section in SECTIONS:
        sections[section] = _SECTION_CLASSES[section](**{
            key.field: flat[key.name] for key in _section_keys(section)})
    return Config(**sections)


def _yaml_error(source, error):
    """A ConfigError for a YAMLError, with the line where PyYAML saw it."""
    mark = getattr(error, 'problem_mark', None) or \
        getattr(error, 'context_mark', None)
    where = source if mark is None else '{}:{}:{}'.format(
        source, mark.line + 1, mark.column + 1)
    return ConfigError('{}: malformed YAML: {}'.format(
        where, _yaml_problem(error)))


def _yaml_problem(error):
    """PyYAML's error on one line, without the marks it prints below."""
    if isinstance(error, yaml.MarkedYAMLError):
        problem = ' '.join(p for p in (error.context, error.problem) if p)
        if problem:
            return problem
    return ' '.join(str(error).split())


def _compose(text, source):
    """The loader and the YAML node of a document (None when empty)."""
    loader = _Loader(text)
    try:
        return loader, loader.get_single_node()
    except yaml.YAMLError as e:
        loader.dispose()
        raise _yaml_error(source, e) from None


def _construct(loader, node, source):
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        # e.g. a !!python/... tag: the safe loader builds plain data only.
        raise ConfigError('{}: cannot read value: {}'.format(
            _where(source, node), _yaml_problem(e))) from None


def _node_kind(node):
    if isinstance(node, yaml.MappingNode):
        return 'mapping'
    if isinstance(node, yaml.SequenceNode):
        return 'list'
    return 'scalar'


def _read_document(text, source, flat, errors):
    """Checks a YAML document and puts its values into ``flat``."""
    loader, root = _compose(text, source)
    try:
        if root is None:
            return
        if not isinstance(root, yaml.MappingNode):
            errors.append('{}: expected a mapping of sections ({}), got a '
                          '{}'.format(_where(source, root),
                                      ', '.join(SECTIONS), _node_kind(root)))
            return
        seen = {}
        for key_node, value_node in root.value:
            section = _construct(loader, key_node, source)
            where = _where(source, key_node)
            if section not in SECTIONS:
                errors.append('{}: unknown section {!r}; allowed sections: '
                              '{}'.format(where, section,
                                          ', '.join(SECTIONS)))
                continue
            if section in seen:
                errors.append('{}: section {!r} given twice (first at line '
                              '{})'.format(where, section, seen[section]))
                continue
            seen[section] = key_node.start_mark.line + 1
            if _node_kind(value_node) == 'scalar' and \
                    _construct(loader, value_node, source) is None:
                continue  # an empty section: all defaults
            if not isinstance(value_node, yaml.MappingNode):
                errors.append('{}: section {!r} must be a mapping of keys, '
                              'got a {}'.format(_where(source, value_node),
                                                section,
                                                _node_kind(value_node)))
                continue
            _read_section(loader, section, value_node, source, flat, errors)
    finally:
        loader.dispose()


def _read_section(loader, section, node, source, flat, errors):
    seen = {}
    for key_node, value_node in node.value:
        field = _construct(loader, key_node, source)
        where = _where(source, key_node)
        name = '{}.{}'.format(section, field)
        key = KEYS_BY_NAME.get(name) if isinstance(field, str) else None
        if key is None:
            errors.append('{}: unknown key {!r} in section {!r}; allowed '
                          'keys: {}'.format(where, field, section,
                                            _allowed(section)))
            continue
        if name in seen:
            errors.append('{}: {} given twice (first at line {})'.format(
                where, name, seen[name]))
            continue
        seen[name] = key_node.start_mark.line + 1
        value = _construct(loader, value_node, source)
        checked = _check_value(key, value, _where(source, value_node),
                               errors)
        if checked is not _INVALID:
            flat[name] = checked


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
    if not raw.strip():
        return name, None
    loader, node = _compose(raw, source)
    try:
        value = None if node is None else _construct(loader, node, source)
    finally:
        loader.dispose()
    return name, value


def _apply_overrides(overrides, flat, errors):
    for text in overrides:
        source = 'override {!r}'.format(text)
        try:
            name, value = parse_override(text)
        except ConfigError as e:
            errors.append(str(e))
            continue
        key = _lookup_key(name, source, errors)
        if key is None:
            continue
        checked = _check_value(key, value, source, errors)
        if checked is not _INVALID:
            flat[name] = checked


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
        try:
            with open(source, encoding='utf-8') as f:
                text = f.read()
        except FileNotFoundError:
            raise ConfigError('config file not found: {}'.format(source)) \
                from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError('cannot read config file {}: {}'.format(
                source, e)) from None
        _read_document(text, source, flat, errors)
    _apply_overrides(overrides, flat, errors)
    _raise_if(errors)
    if overrides:
        source += ' with overrides'
    return _build(flat, source)


def _flow(value):
    """One value as a one-line YAML flow scalar or list."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10 ** 9)
    text = text.strip()
    if text.endswith('\n...'):
        text = text[:-4].strip()
    return text


def dump_config(config):
    """The configuration as YAML text: every key, in the order of KEYS."""
    data = config.to_dict()
    lines = ['# fasterrcnn configuration (all keys; see --help-config)']
    for section in SECTIONS:
        lines.append('{}:'.format(section))
        for field, value in data[section].items():
            lines.append('  {}: {}'.format(field, _flow(value)))
    return '\n'.join(lines) + '\n'


def save_config(config, path):
    """Writes the resolved configuration as YAML; :func:`load_config` reads
    it back to an equal :class:`Config`."""
    text = dump_config(config)
    with atomic_write(path, binary=False) as f:
        f.write(text)


# --------------------------------------------------------------------------
# Documentation


def _format_default(key):
    return _flow(None if key.default is None else key.type.dump(key.default))


def format_config_help(width=79):
    """A table of every key with its type, default and meaning."""
    out = io.StringIO()
    out.write('Configuration keys (YAML sections; --set SECTION.KEY=VALUE):'
              '\n')
    for section in SECTIONS:
        out.write('\n{}:\n'.format(section))
        for key in _section_keys(section):
            out.write('  {}  ({}, default {})\n'.format(
                key.name, key.type_name, _format_default(key)))
            for line in textwrap.wrap(key.help, width - 6):
                out.write('      {}\n'.format(line))
    return out.getvalue()


def print_config_help(file=None):
    """Prints :func:`format_config_help` (to stdout by default)."""
    (file or sys.stdout).write(format_config_help())
