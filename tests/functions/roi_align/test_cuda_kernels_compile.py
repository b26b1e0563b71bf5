"""The RoIAlign CuPy kernels compile (nvcc, no GPU needed), as
tests/test_cuda_kernels_compile.py does for the other kernels."""

import pytest

from fasterrcnn.functions.roi_align import cuda_impl
from tests.support.cuda_compile import compile_source, elementwise_source

ELEMENTWISE = {
    'roi_align_forward': cuda_impl._FORWARD_KERNEL,
    'roi_align_backward': cuda_impl._BACKWARD_KERNEL,
}


@pytest.mark.parametrize('type_name', ['float', 'double'])
@pytest.mark.parametrize('name', sorted(ELEMENTWISE))
def test_elementwise_kernel_compiles(tmp_path, name, type_name):
    source = elementwise_source(*ELEMENTWISE[name], type_name=type_name)
    compile_source(source, tmp_path, '{}_{}'.format(name, type_name))
