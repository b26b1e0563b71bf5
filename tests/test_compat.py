"""The compat import of chainer 7.8.1 (fasterrcnn/_compat.py)."""

import subprocess
import sys
import textwrap

import numpy
import pytest

from fasterrcnn import _compat


def run_python(code):
    result = subprocess.run([sys.executable, '-W', 'error', '-c',
                             textwrap.dedent(code)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_chainer_imported_and_nothing_fake_left_behind():
    import chainer
    assert chainer.__version__ == '7.8.1'
    for name in _compat.STAND_INS:
        if name == 'numpy.sctypes':
            with pytest.raises(AttributeError):
                numpy.sctypes
        else:
            assert name not in sys.modules
            assert not any(m.startswith(name + '.') for m in sys.modules)


def test_every_stand_in_when_everything_is_missing():
    # Hide all three things, as numpy 2 with setuptools >= 82 does.
    out = run_python('''
        import importlib.abc, sys
        import numpy

        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == 'pkg_resources' or \
                        name.startswith('numpy.distutils'):
                    raise ImportError('hidden: ' + name)
                return None

        sys.meta_path.insert(0, Hide())
        try:
            del numpy.sctypes
        except AttributeError:
            pass
        import fasterrcnn, chainer
        from chainer import gradient_check, testing
        from fasterrcnn import _compat
        assert set(_compat.STAND_INS) == {
            'numpy.sctypes', 'numpy.distutils.system_info', 'pkg_resources'}
        assert 'pkg_resources' not in sys.modules
        assert not [m for m in sys.modules if m.startswith('numpy.distutils')]
        assert not hasattr(numpy, 'sctypes')
        assert 'distutils' not in numpy.__dict__
        import chainer.functions as F
        print(F.relu(numpy.array([-1.0, 2.0], numpy.float32)).array.tolist())
    ''')
    assert out.strip() == '[0.0, 2.0]'


def test_no_stand_in_when_nothing_is_missing():
    # numpy 1.x keeps sctypes: then it is not touched.
    out = run_python('''
        import numpy
        had = hasattr(numpy, 'sctypes')
        table = getattr(numpy, 'sctypes', None)
        import fasterrcnn
        from fasterrcnn import _compat
        assert ('numpy.sctypes' in _compat.STAND_INS) == (not had)
        if had:
            assert numpy.sctypes is table
        print('ok')
    ''')
    assert out.strip() == 'ok'


def test_pkg_resources_stand_in():
    module = _compat._make_pkg_resources()
    assert module.require('numpy>=1.0') == []
    with pytest.raises(module.DistributionNotFound):
        module.require('surely-not-installed-package-xyz>=1')
    assert issubclass(module.VersionConflict, module.ResolutionError)
    with pytest.raises(ValueError):
        module.require('>=1')


def test_sctypes_table():
    table = _compat._sctypes()
    assert numpy.int32 in table['int'] and numpy.float32 in table['float']
    assert {t().itemsize for t in table['int']} == {1, 2, 4, 8}
