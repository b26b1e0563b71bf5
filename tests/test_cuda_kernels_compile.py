"""Every CuPy kernel of the package compiles (nvcc, no GPU needed)."""

import pytest

from fasterrcnn import nms
from fasterrcnn.functions.roi_pooling import cuda_impl as roi_pooling_cuda
from tests.support.cuda_compile import compile_source, elementwise_source

ELEMENTWISE = {
    'roi_pooling_forward': roi_pooling_cuda._FORWARD_KERNEL,
    'roi_pooling_backward': roi_pooling_cuda._BACKWARD_KERNEL,
    'nms_mask': nms._MASK_KERNEL,
}


@pytest.mark.parametrize('type_name', ['float', 'double'])
@pytest.mark.parametrize('name', sorted(ELEMENTWISE))
def test_elementwise_kernel_compiles(tmp_path, name, type_name):
    source = elementwise_source(*ELEMENTWISE[name], type_name=type_name)
    compile_source(source, tmp_path, '{}_{}'.format(name, type_name))


def test_nms_reduce_kernel_compiles(tmp_path):
    compile_source(nms._REDUCE_SOURCE, tmp_path, 'nms_reduce')


def test_compile_check_catches_errors(tmp_path):
    # The check is only worth having if a broken body fails it.
    in_params, out_params, body = nms._MASK_KERNEL
    broken = elementwise_source(in_params, out_params,
                                body.replace('area_a', 'area_q', 1), 'float')
    with pytest.raises(pytest.fail.Exception, match='nvcc rejected'):
        compile_source(broken, tmp_path, 'broken')
