"""CuPy backend of RoIAlign (fasterrcnn/functions/roi_align/cuda_impl).

On each device of the ``device`` fixture (NumPy, and CuPy marked ``gpu``),
the op's values and gradients against the NumPy twin to float rounding, the
gradient the same bits on every run, and the index check; on a GPU, the
kernels against their own text compiled for the host, bit for bit (no fused
multiply-add on either side). Without a GPU these skip; test_cuda_host.py
runs the same CUDA text on the CPU and test_cuda_kernels_compile.py
compiles it with nvcc.
"""

import chainer
import numpy
import pytest

from fasterrcnn.functions import roi_align_2d
from fasterrcnn.functions.roi_align import cuda_impl, numpy_impl
from tests.functions.roi_align.roi_align_reference import (
    assert_close_to_rounding, random_rois)

#: As test_cuda_host.UNITS: the kernels sum otherwise than the twin.
UNITS = 16


def _run(device, x, rois, roi_indices, gy, sampling, aligned):
    xv = chainer.Variable(device.send(x))
    y = roi_align_2d(xv, device.send(rois), device.send(roi_indices), 14,
                     1 / 16, sampling, aligned)
    y.grad = device.send(gy)
    y.backward()
    return chainer.backends.cuda.to_cpu(y.array), \
        chainer.backends.cuda.to_cpu(xv.grad)


@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
@pytest.mark.parametrize('sampling, aligned', [(2, False), (None, True)])
def test_device_matches_the_numpy_twin(device, dtype, sampling, aligned):
    rng = numpy.random.RandomState(5)
    x = rng.randn(2, 64, 38, 50).astype(dtype)
    rois = random_rois(rng, 128, (608, 800), dtype)
    rois[:3] = numpy.array([[40, 40, 40, 40], [200, 100, 60, 20],
                            [numpy.nan, 0, 50, 50]], dtype)
    roi_indices = rng.randint(0, 2, 128).astype(numpy.int32)
    gy = rng.randn(128, 64, 14, 14).astype(dtype)
    y, gx = _run(device, x, rois, roi_indices, gy, sampling, aligned)
    grid = (sampling or 0,) * 2
    ref_y, geo = numpy_impl.forward(x, rois, roi_indices, 14, 14, 1 / 16,
                                    grid, aligned)
    ref_gx = numpy_impl.backward(gy, geo, roi_indices, x.shape)
    mag_y, _ = numpy_impl.forward(numpy.abs(x), rois, roi_indices, 14, 14,
                                  1 / 16, grid, aligned)
    mag_gx = numpy_impl.backward(numpy.abs(gy), geo, roi_indices, x.shape)
    assert y.dtype == dtype and gx.dtype == dtype
    assert_close_to_rounding(y, ref_y, mag_y, UNITS)
    assert_close_to_rounding(gx, ref_gx, mag_gx, UNITS)
    # The same bits on every run (the GPU backward gathers, no atomicAdd).
    y2, gx2 = _run(device, x, rois, roi_indices, gy, sampling, aligned)
    assert y2.tobytes() == y.tobytes() and gx2.tobytes() == gx.tobytes()


def test_device_double_backward(device):
    rng = numpy.random.RandomState(6)
    x = rng.randn(1, 2, 5, 5)
    rois = random_rois(rng, 4, (80, 80), numpy.float64)
    roi_indices = numpy.zeros(4, numpy.int32)
    gy = rng.randn(4, 2, 2, 2)
    ggx = rng.randn(*x.shape)
    rois_d, roi_indices_d = device.send(rois), device.send(roi_indices)

    def f(x):
        return roi_align_2d(x, rois_d, roi_indices_d, 2, 1 / 16, None, True)

    chainer.gradient_check.check_double_backward(
        f, device.send(x), device.send(gy), device.send(ggx), eps=1e-3,
        atol=1e-9, rtol=1e-9, dtype=numpy.float64)


def test_device_checks_the_roi_indices(device):
    x = device.send(numpy.ones((2, 3, 4, 4), numpy.float32))
    rois = device.send(numpy.zeros((2, 4), numpy.float32))
    with pytest.raises(ValueError, match=r'roi_indices must be in \[0, 2\)'):
        roi_align_2d(x, rois, device.send(numpy.array([0, 5], numpy.int32)),
                     7, 1 / 16)


@pytest.mark.gpu
@pytest.mark.cuda_host
@pytest.mark.parametrize('type_name', ['float32', 'float64'])
def test_gpu_kernels_equal_the_host_build_bit_for_bit(type_name):
    # The same text, the same IEEE operations in the same order (NVRTC
    # --fmad=false, the host build -ffp-contract=off): the same bits.
    import cupy

    from tests.functions.roi_align import test_cuda_host as host
    forward, backward = host.kernels(type_name)
    x, rois, roi_indices, gy = host.case(host.DTYPES[type_name])
    for sampling, aligned in host.SETTINGS:
        y, gx = host.host(forward, backward, x, rois, roi_indices, gy,
                          sampling, aligned)
        y_gpu = cuda_impl.forward(
            cupy.asarray(x), cupy.asarray(rois), cupy.asarray(roi_indices),
            *gy.shape[2:], 1 / 16, sampling, aligned)
        gx_gpu = cuda_impl.backward(
            cupy.asarray(gy), cupy.asarray(rois), cupy.asarray(roi_indices),
            x.shape, *gy.shape[2:], 1 / 16, sampling, aligned)
        assert cupy.asnumpy(y_gpu).tobytes() == y.tobytes(), sampling
        assert cupy.asnumpy(gx_gpu).tobytes() == gx.tobytes(), sampling
