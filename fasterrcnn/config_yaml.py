"""YAML for configuration files: a safe loader that knows where keys are.

Only what PyYAML does not do for the configuration is here: error messages
need the line of each key, a key given twice must be an error (PyYAML keeps
the last one silently), and ``1e-3`` must read as a float (YAML 1.2; PyYAML
implements YAML 1.1, where a float needs a dot and ``1e-3`` is a string).
"""

import re

import yaml


class Mapping(dict):
    """A YAML mapping that also knows where its keys and values are.

    Attributes:
        marks (dict): ``{key: (key mark, value mark)}``; a mark (PyYAML's)
            has ``line`` and ``column``, counted from 0.
        twice (list): ``(key, key mark, line of the first)`` for each key
            given again; the first value is the one kept.
    """

    def __init__(self):
        super().__init__()
        self.marks = {}
        self.twice = []


class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that builds :class:`Mapping` objects and reads
    YAML 1.2 floats. Being a SafeLoader, it builds plain data only: a
    ``!!python/...`` tag is an error, never an object."""


_FLOAT_TAG = 'tag:yaml.org,2002:float'

# YAML 1.2's floats; YAML 1.1's pattern differs only in wanting a dot.
_FLOAT = re.compile(r'''^[-+]?(?:
      [0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
    | \.[0-9_]+(?:[eE][-+]?[0-9]+)?
    | [0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    | \.(?:inf|Inf|INF)
    | \.(?:nan|NaN|NAN)
    )$''', re.X)

# New lists for this subclass, so that yaml.SafeLoader itself is unchanged.
Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _FLOAT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list('-+0123456789.'))


def _construct_mapping(loader, node):
    mapping = Mapping()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = mapping.marks.get(key)
        except TypeError:  # a list or a mapping as a key
            raise yaml.constructor.ConstructorError(
                None, None, 'found an unhashable key',
                key_node.start_mark) from None
        if first is not None:
            mapping.twice.append(
                (key, key_node.start_mark, first[0].line + 1))
            continue
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.marks[key] = (key_node.start_mark, value_node.start_mark)
    return mapping


Loader.add_constructor('tag:yaml.org,2002:map', _construct_mapping)


def read(text):
    """The data of a one-document YAML text, and its root node.

    Returns:
        tuple: ``(data, node)``; ``(None, None)`` for a text without a
        document (empty, or comments only).

    Raises:
        yaml.YAMLError: malformed YAML, several documents, or a value that
            a SafeLoader does not build.
    """
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def where(source, mark):
    """``source:line:column`` (from 1), or ``source`` without a mark."""
    if mark is None:
        return source
    return '{}:{}:{}'.format(source, mark.line + 1, mark.column + 1)


def describe_error(source, error):
    """A one-line message for a YAMLError: where PyYAML saw it, then what.

    PyYAML's own text quotes the offending lines below the message; only
    its first words and its position are kept.
    """
    mark = getattr(error, 'problem_mark', None) or \
        getattr(error, 'context_mark', None)
    problem = ''
    if isinstance(error, yaml.MarkedYAMLError):
        problem = ' '.join(p for p in (error.context, error.problem) if p)
    problem = problem or ' '.join(str(error).split())
    what = 'cannot read value' if isinstance(
        error, yaml.constructor.ConstructorError) else 'malformed YAML'
    return '{}: {}: {}'.format(where(source, mark), what, problem)


def flow(value):
    """``value`` as one line of YAML: a scalar or a ``[flow, list]``."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10 ** 9)
    text = text.strip()
    if text.endswith('\n...'):  # the end of a document holding a scalar
        text = text[:-4].strip()
    return text
