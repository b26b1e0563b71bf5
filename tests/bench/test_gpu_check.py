"""bench/gpu_check.py: the one prepared run for a lent CUDA machine."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _load(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(ROOT, 'bench', name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = _load('gpu_check')


class FakeDeviceArray(object):
    """Stands in for cupy.ndarray: its host-copy methods call each other,
    as CuPy's do (float() reads through get())."""

    def get(self):
        return 1.5

    def __float__(self):
        return float(self.get())

    def item(self):
        return self.get()


def test_host_copies_are_counted_once_each_at_the_calling_line():
    array = FakeDeviceArray()
    with gpu_check.count_host_copies(FakeDeviceArray) as sites:
        array.get()
        line = 1 + _line()
        float(array), array.item()
    here = os.path.relpath(__file__, ROOT)
    assert sites == {'{}:{}'.format(here, line - 2): 1,
                     '{}:{}'.format(here, line): 2}
    # The class is as it was.
    assert 'counted' not in FakeDeviceArray.get.__qualname__
    assert FakeDeviceArray.__dict__.get('tolist') is None


def _line():
    import sys
    return sys._getframe(1).f_lineno


@pytest.mark.slow
def test_dry_run_passes_every_step(tmp_path):
    out = str(tmp_path / 'out')
    assert gpu_check.main(['--dry-run', '--out', out]) == 0
    with open(os.path.join(out, 'gpu_check.json')) as f:
        report = json.load(f)
    assert list(report['steps']) == [name for name, _ in gpu_check.STEPS]
    for name, step in report['steps'].items():
        assert step['status'] == 'ok', (name, step.get('traceback'))
    steps = report['steps']
    golden = steps['golden']['result']['files']['sfr_seed1.npz']
    assert golden['stages'] == golden['within_tolerance'] > 0
    assert steps['trainer']['result']['snapshots'] == [
        'snapshot_iter_3.npz', 'snapshot_iter_6.npz']
    assert steps['train_step']['result']['iteration'] > 0
    with open(os.path.join(out, 'gpu_check.txt')) as f:
        text = f.read()
    assert '## train_step' in text and '| training iteration |' in text
