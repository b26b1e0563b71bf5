"""The name ``chainercv`` for :mod:`fasterrcnn.chainercv`, so that scripts
written for chainercv import it unchanged."""

import importlib
import pkgutil
import sys

PACKAGE = 'fasterrcnn.chainercv'

# Not part of chainercv's API.
_PRIVATE = ('__main__', 'alias', 'backends', 'pretrained', 'trained')


def _modules():
    """Every module of this package: ``{suffix: module}``, ``''`` for the
    package itself."""
    package = importlib.import_module(PACKAGE)
    modules = {'': package}
    for info in pkgutil.walk_packages(package.__path__, PACKAGE + '.'):
        suffix = info.name[len(PACKAGE):]
        if suffix.rsplit('.', 1)[-1] in _PRIVATE:
            continue
        modules[suffix] = importlib.import_module(info.name)
    return modules


def install_alias(name='chainercv'):
    """Make ``import chainercv`` (and ``chainercv.links`` ...) give this
    package's modules, for the rest of the process.

    Args:
        name (str): the top-level name to take.

    Raises:
        ImportError: a different ``name`` module is already imported.
    """
    present = sys.modules.get(name)
    package = importlib.import_module(PACKAGE)
    if present is not None and present is not package:
        raise ImportError(
            'a module {!r} ({}) is already imported; install the alias '
            'before anything imports it'.format(
                name, getattr(present, '__file__', None) or 'built in'))
    for suffix, module in _modules().items():
        sys.modules[name + suffix] = module
