"""CuPy backend of RoI pooling (fasterrcnn/functions/roi_pooling/cuda_impl).

On a GPU the kernels must give the NumPy twin's values and gradients bit for
bit. Without one these tests skip; tests/test_cuda_kernels_compile.py still
compiles the kernel sources with nvcc.
"""

import chainer
import numpy
import pytest

from fasterrcnn.functions.roi_pooling import roi_pooling_2d
from tests.functions.roi_pooling.roi_pool_reference import random_rois


@pytest.mark.gpu
@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
def test_cupy_kernels_match_numpy_twin_bit_for_bit(dtype):
    import cupy
    rng = numpy.random.RandomState(5)
    x = rng.randn(2, 64, 38, 50).astype(dtype)
    x[0, :, :4] = numpy.round(x[0, :, :4])          # ties
    rois = random_rois(rng, 128, (608, 800), dtype, halves=True)
    roi_indices = rng.randint(0, 2, 128).astype(numpy.int32)
    gy = rng.randn(128, 64, 7, 7).astype(dtype)
    outs = []
    for xp in (numpy, cupy):
        xv = chainer.Variable(xp.asarray(x))
        y = roi_pooling_2d(xv, xp.asarray(rois), xp.asarray(roi_indices), 7,
                           1 / 16)
        y.grad = xp.asarray(gy)
        y.backward()
        outs.append((chainer.backends.cuda.to_cpu(y.array),
                     chainer.backends.cuda.to_cpu(xv.grad)))
    # Bit for bit: the sign of a zero included.
    assert outs[0][0].tobytes() == outs[1][0].tobytes()
    assert outs[0][1].tobytes() == outs[1][1].tobytes()
