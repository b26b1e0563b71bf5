"""Import chainer 7.8.1 on today's numpy and setuptools.

chainer 7.8.1 (its last release) touches three things that newer releases
removed:

* ``numpy.sctypes`` (gone in numpy 2.0), read at import time by
  ``chainer.functions.array.as_strided``;
* ``numpy.distutils.system_info`` (gone in numpy 2.0, and broken beside
  setuptools >= 74 on numpy 1.26), imported by ``chainer._environment_check``
  and used there only on macOS, for ``get_info('blas_opt')``;
* ``pkg_resources`` (gone in setuptools 82), imported by
  ``chainer._environment_check`` (``require``, ``DistributionNotFound``,
  ``VersionConflict``) and by ``chainer.testing`` (which
  ``chainer.gradient_check`` imports).

:func:`import_chainer` supplies each one only when it is missing, only while
chainer (with ``chainer.testing`` and ``chainer.gradient_check``) is being
imported, and takes every stand-in away again afterwards: no fake module is
left in ``sys.modules`` and ``numpy`` gets no lasting attribute. The modules of
chainer that imported a stand-in keep their own reference to it, which is all
they need. Nothing here needs an environment variable.

One consequence: under numpy 2 the backward of ``F.as_strided`` (which reads
``numpy.sctypes`` at call time) fails; this package does not use it.
"""

import contextlib
import importlib
import importlib.metadata
import re
import sys
import types
import warnings

import numpy


def _sctypes():
    """The ``numpy.sctypes`` table as numpy 1.x defined it."""
    return {
        'int': [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
        'uint': [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
        'float': [numpy.float16, numpy.float32, numpy.float64,
                  numpy.longdouble],
        'complex': [numpy.complex64, numpy.complex128, numpy.clongdouble],
        'others': [bool, object, bytes, str, numpy.void],
    }


def _has_sctypes():
    try:
        numpy.sctypes
    except AttributeError:
        return False
    return True


def _make_system_info():
    """Stand-in for ``numpy.distutils`` and its ``system_info``.

    chainer calls ``get_info('blas_opt')`` on macOS only, to warn about
    Accelerate; an empty answer means "nothing detected", so no warning.
    """
    distutils = types.ModuleType('numpy.distutils')
    system_info = types.ModuleType('numpy.distutils.system_info')
    system_info.get_info = lambda name, notfound_action=0: {}
    distutils.system_info = system_info
    distutils.__path__ = []
    return {'numpy.distutils': distutils,
            'numpy.distutils.system_info': system_info}


_REQUIREMENT_NAME = re.compile(r'^\s*([A-Za-z0-9][A-Za-z0-9._-]*)')


def _make_pkg_resources():
    """Stand-in for the part of ``pkg_resources`` that chainer calls.

    ``require`` answers only whether the distribution is installed (through
    ``importlib.metadata``); it does not compare versions, so it never raises
    ``VersionConflict`` and chainer's version-mismatch warning is not given.
    """
    module = types.ModuleType('pkg_resources')

    class ResolutionError(Exception):
        pass

    class DistributionNotFound(ResolutionError):
        pass

    class VersionConflict(ResolutionError):
        pass

    def require(requirement):
        match = _REQUIREMENT_NAME.match(str(requirement))
        if match is None:
            raise ValueError('cannot parse requirement {!r}'.format(
                requirement))
        try:
            importlib.metadata.distribution(match.group(1))
        except importlib.metadata.PackageNotFoundError:
            raise DistributionNotFound(requirement) from None
        return []

    module.ResolutionError = ResolutionError
    module.DistributionNotFound = DistributionNotFound
    module.VersionConflict = VersionConflict
    module.require = require
    return module


def _try_import(name, package):
    """Import ``name`` quietly; on failure drop what the attempt left behind.

    A failed ``import numpy.distutils.system_info`` leaves half-initialised
    ``numpy.distutils.*`` entries in ``sys.modules``; every module under
    ``package`` that the attempt added is removed, so that the stand-in takes
    their place.
    """
    before = set(sys.modules)
    try:
        with warnings.catch_warnings():
            # numpy.distutils and pkg_resources warn that they are deprecated.
            warnings.simplefilter('ignore')
            importlib.import_module(name)
        return True
    except Exception:
        for added in set(sys.modules) - before:
            if added == package or added.startswith(package + '.'):
                module = sys.modules.pop(added)
                parent_name, _, child = added.rpartition('.')
                parent = sys.modules.get(parent_name)
                if parent is not None and \
                        parent.__dict__.get(child) is module:
                    delattr(parent, child)
        return False


@contextlib.contextmanager
def _stand_ins():
    """Supply each missing piece for the duration of the block only.

    Yields the names of the stand-ins in use (for tests and diagnostics).
    """
    modules = {}
    used = []
    set_sctypes = not _has_sctypes()
    if set_sctypes:
        numpy.sctypes = _sctypes()
        used.append('numpy.sctypes')
    if not _try_import('numpy.distutils.system_info', 'numpy.distutils'):
        modules.update(_make_system_info())
        used.append('numpy.distutils.system_info')
    if not _try_import('pkg_resources', 'pkg_resources'):
        modules['pkg_resources'] = _make_pkg_resources()
        used.append('pkg_resources')
    old_distutils = numpy.__dict__.get('distutils', None)
    if 'numpy.distutils' in modules:
        # `import numpy.distutils.system_info` finds the module in sys.modules
        # but chainer then reads it as an attribute of numpy.
        numpy.distutils = modules['numpy.distutils']
    sys.modules.update(modules)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                'ignore', message='pkg_resources is deprecated',
                category=UserWarning)
            yield used
    finally:
        for name, module in modules.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        if 'numpy.distutils' in modules:
            if old_distutils is None:
                numpy.__dict__.pop('distutils', None)
            else:
                numpy.distutils = old_distutils
        if set_sctypes:
            del numpy.sctypes


#: Names of the stand-ins used by the import of chainer in this process.
STAND_INS = ()


def import_chainer():
    """Import chainer (and ``chainer.testing``, ``chainer.gradient_check``).

    Returns the ``chainer`` module. Safe to call many times.
    """
    global STAND_INS
    if 'chainer' in sys.modules and 'chainer.gradient_check' in sys.modules:
        return sys.modules['chainer']
    with _stand_ins() as used:
        import chainer
        import chainer.gradient_check  # noqa: F401
        import chainer.testing  # noqa: F401  (imports pkg_resources)
    STAND_INS = tuple(used)
    return chainer
