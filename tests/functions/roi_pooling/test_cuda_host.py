"""The RoI pooling CUDA kernels (cuda_impl's very strings) run on the CPU,
compiled for the host (tests/support/cuda_host.py), against the NumPy twin
bit for bit; and a changed operator or index in the text is caught."""

import numpy
import pytest

from fasterrcnn.functions.roi_pooling import cuda_impl, numpy_impl
from tests.functions.roi_pooling.roi_pool_reference import random_rois
from tests.support import cuda_host

pytestmark = pytest.mark.cuda_host

DTYPES = {'float32': numpy.float32, 'float64': numpy.float64}


def kernels(type_name, forward=None, backward=None):
    """The forward and backward kernels for ``T`` = ``type_name``, from
    cuda_impl's text (or the given replacement tuples)."""
    return (cuda_host.ElementwiseKernel(
                *(forward or cuda_impl._FORWARD_KERNEL),
                type_name=type_name, name='roi_forward_' + type_name),
            cuda_host.ElementwiseKernel(
                *(backward or cuda_impl._BACKWARD_KERNEL),
                type_name=type_name, name='roi_backward_' + type_name))


def host_forward(kernel, x, rois, roi_indices, outh, outw, scale):
    """What cuda_impl.forward launches, on the host: ``(y, argmax)``
    ``(R, C, outh, outw)``."""
    r, c = len(rois), x.shape[1]
    y = numpy.empty((r, c, outh, outw), x.dtype)
    argmax = numpy.empty(y.shape, numpy.int32)
    kernel(x, rois, roi_indices, c, x.shape[2], x.shape[3], outh, outw,
           x.dtype.type(scale), numpy.finfo(x.dtype).min, y, argmax,
           size=y.size)
    return y, argmax


def host_backward(kernel, gy, argmax, rois, roi_indices, x_shape, outh,
                  outw, scale):
    """What cuda_impl.backward launches, on the host: ``(N, C, H, W)``."""
    n, c, height, width = x_shape
    gx = numpy.empty(x_shape, gy.dtype)
    kernel(gy, argmax, rois, roi_indices, len(rois), c, height, width, outh,
           outw, gy.dtype.type(scale), gx, size=gx.size)
    return gx


def case(dtype, seed=0, n_rois=64, c=6, height=19, width=25, ties=True,
         bins=(7, 7)):
    """Features with ties, RoIs partly or wholly outside the image, corners
    on half cells, tiny RoIs (empty and one-cell bins)."""
    rng = numpy.random.RandomState(seed)
    x = rng.randn(2, c, height, width).astype(dtype)
    if ties:
        x[0, :, :5] = numpy.round(x[0, :, :5])
    rois = random_rois(rng, n_rois, (height * 16, width * 16), dtype,
                       halves=True)
    rois[:4] = numpy.array([[0, 0, 3, 3],                 # within one cell
                            [-200, -200, -100, -100],     # wholly outside
                            [40, 40, 40, 40],             # a point
                            [5000, 5000, 6000, 6000]], dtype)
    roi_indices = rng.randint(0, 2, n_rois).astype(numpy.int32)
    gy = rng.randn(n_rois, c, *bins).astype(dtype)
    return x, rois, roi_indices, gy


def twin(x, rois, roi_indices, gy):
    """The NumPy twin's ``(y, argmax, gx)``, argmax ``(R, C, outh, outw)``
    as the kernels'."""
    outh, outw = gy.shape[2:]
    y, argmax = numpy_impl.forward(x, rois, roi_indices, outh, outw, 1 / 16)
    gx = numpy_impl.backward(gy, argmax, roi_indices, x.shape)
    return y, argmax, gx


@pytest.mark.parametrize('type_name', sorted(DTYPES))
@pytest.mark.parametrize('seed, bins', [(0, (7, 7)), (1, (5, 3))])
def test_kernels_match_the_numpy_twin_bit_for_bit(type_name, seed, bins):
    forward, backward = kernels(type_name)
    x, rois, roi_indices, gy = case(DTYPES[type_name], seed, bins=bins)
    y, argmax = host_forward(forward, x, rois, roi_indices, *bins, 1 / 16)
    gx = host_backward(backward, gy, argmax, rois, roi_indices, x.shape,
                       *bins, 1 / 16)
    ref_y, ref_argmax, ref_gx = twin(x, rois, roi_indices, gy)
    numpy.testing.assert_array_equal(argmax, ref_argmax)
    assert y.tobytes() == ref_y.tobytes()
    assert gx.tobytes() == ref_gx.tobytes()
    # The case has what it claims: empty bins and cells hit twice.
    assert (argmax == -1).any() and (argmax >= 0).any()
    assert len(numpy.unique(argmax[argmax >= 0])) < (argmax >= 0).sum()


def test_one_roi_and_one_channel():
    forward, backward = kernels('float32')
    x, rois, roi_indices, gy = case(numpy.float32, 3, n_rois=5, c=1)
    y, argmax = host_forward(forward, x, rois, roi_indices, 7, 7, 1 / 16)
    ref_y, ref_argmax, _ = twin(x, rois, roi_indices, gy)
    assert y.tobytes() == ref_y.tobytes()
    numpy.testing.assert_array_equal(argmax, ref_argmax)


#: Single changes to an operator or an index of the CUDA text, each of
#: which must make the comparison fail: (kernel, old, new).
MUTATIONS = [
    ('forward', 'plane[index] > best', 'plane[index] >= best'),
    ('forward', 'const int pw = i % pooled_w;',
     'const int pw = i % pooled_h;'),
    ('forward', 'const int index = h * width + w;',
     'const int index = w * width + h;'),
    ('forward', 'is_empty ? (T)0 : lowest', 'is_empty ? lowest : (T)0'),
    ('preamble', '*bin_h = (T)max(end_h - *start_h + 1, 1)',
     '*bin_h = (T)max(end_h - *start_h, 1)'),
    ('preamble', '(int)ceil((T)(p + 1) * bin)',
     '(int)floor((T)(p + 1) * bin)'),
    ('backward', 'if (argmax[k] == cell)', 'if (argmax[k] != cell)'),
    ('backward', 'offset + ph * pooled_w + pw', 'offset + pw * pooled_w + ph'),
    ('backward', 'if (roi_indices[r] != n) continue;',
     'if (roi_indices[r] == n) continue;'),
]
# Not in the list: the backward's bin range checks (``h < hstart || h >=
# hend``) only skip bins early; a changed bound there is not observable,
# since a bin's arg-max always lies inside it.


@pytest.mark.parametrize('which, old, new', MUTATIONS)
def test_a_changed_operator_or_index_is_caught(which, old, new):
    forward = cuda_host.mutated(cuda_impl._FORWARD_KERNEL, which, old, new) \
        if which in ('forward', 'preamble') else None
    backward = cuda_host.mutated(cuda_impl._BACKWARD_KERNEL, which, old, new) \
        if which in ('backward', 'preamble') else None
    forward, backward = kernels('float32', forward, backward)
    found = False
    for seed, bins in ((0, (7, 7)), (1, (5, 3))):
        x, rois, roi_indices, gy = case(numpy.float32, seed, bins=bins)
        y, argmax = host_forward(forward, x, rois, roi_indices, *bins,
                                 1 / 16)
        ref_y, ref_argmax, ref_gx = twin(x, rois, roi_indices, gy)
        # The backward is judged on the twin's arg-max, so that a forward
        # change and a backward change are caught each by its own kernel.
        gx = host_backward(backward, gy, numpy.ascontiguousarray(ref_argmax),
                           rois, roi_indices, x.shape, *bins, 1 / 16)
        found |= (y.tobytes() != ref_y.tobytes() or
                  not numpy.array_equal(argmax, ref_argmax) or
                  gx.tobytes() != ref_gx.tobytes())
    assert found, 'the change {!r} -> {!r} went unnoticed'.format(old, new)


def test_a_kernel_that_does_not_compile_is_an_error():
    in_params, out_params, body, preamble = cuda_impl._FORWARD_KERNEL
    with pytest.raises(cuda_host.CompileError, match='roi_forward_float32'):
        cuda_host.ElementwiseKernel(
            in_params, out_params, body.replace('best_index', 'best_idx', 1),
            preamble, type_name='float32', name='roi_forward_float32')
