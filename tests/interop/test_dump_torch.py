"""Running the PyTorch version in float64 (fasterrcnn/interop/dump_torch.py):
what its code creates without a dtype, and what it casts with ``.float()``,
is float64 for the run and float32 again after it."""

import numpy
import pytest

from fasterrcnn.interop.dump_torch import _in_dtype


def test_float64_run_and_restored():
    torch = pytest.importorskip(
        'torch', reason='torch is installed in the numpy 2 environment only')
    before = torch.get_default_dtype()
    with _in_dtype(torch, 'float64'):
        assert torch.zeros(2).dtype == torch.float64
        assert torch.Tensor([0.1]).dtype == torch.float64
        assert torch.nn.Linear(2, 2).weight.dtype == torch.float64
        x = torch.ones(3, dtype=torch.float32)
        assert x.float().dtype == torch.float64
    assert torch.get_default_dtype() == before
    assert torch.ones(3, dtype=torch.float64).float().dtype == torch.float32
    with pytest.raises(RuntimeError):
        with _in_dtype(torch, numpy.float64):
            raise RuntimeError('a failed run restores too')
    assert torch.get_default_dtype() == before
    assert torch.ones(1).float().dtype == torch.float32


def test_float32_run_changes_nothing():
    torch = pytest.importorskip(
        'torch', reason='torch is installed in the numpy 2 environment only')
    float_method = torch.Tensor.float
    with _in_dtype(torch, 'float32'):
        assert torch.Tensor.float is float_method
        assert torch.zeros(1).dtype == torch.float32
