"""Compile-check CuPy kernel sources with nvcc, without a GPU.

An ElementwiseKernel body is wrapped the way CuPy wraps it: ``i`` is the
element index, a ``raw`` parameter is an array indexed by a flat index, any
other array parameter names the current element (a reference), a scalar
parameter is a value, and ``T`` is the type variable. nvcc then compiles it
for one architecture; syntax and type errors surface here and not first on a
GPU machine.
"""

import os
import shutil
import subprocess

import pytest

from tests.support.cuda_host import parse_params

_TYPES = {'int32': 'int', 'int64': 'long long', 'uint64':
          'unsigned long long', 'float32': 'float', 'float64': 'double',
          'bool': 'bool', 'T': 'T'}

_PRELUDE = r'''
template <typename V> struct RawArray {
    V* data;
    __device__ V& operator[](long long k) const { return data[k]; }
};
'''


def nvcc():
    """The nvcc executable, or skip (the CI machines have one)."""
    path = shutil.which('nvcc')
    if path is None:
        pytest.skip('nvcc not found')
    return path


def _parse(params):
    """``[(raw, C type, name)]`` of a CuPy parameter list."""
    return [(raw, _TYPES[cupy_type], name)
            for raw, cupy_type, name in parse_params(params)]


def elementwise_source(in_params, out_params, body, preamble='',
                       type_name='float'):
    """A .cu translation unit holding ``body`` (after ``preamble``) as CuPy
    would run it."""
    args, refs = [], []
    inputs = _parse(in_params)
    outputs = _parse(out_params)
    for k, (raw, ctype, name) in enumerate(inputs + outputs):
        is_output = k >= len(inputs)
        if raw:
            args.append('RawArray<{}> {}'.format(ctype, name))
        elif is_output:
            args.append('{}* _out_{}'.format(ctype, name))
            refs.append('{0}& {1} = _out_{1}[i];'.format(ctype, name))
        else:
            args.append('const {} {}'.format(ctype, name))
    return (_PRELUDE + preamble + 'typedef {} T;\n'.format(type_name) +
            'extern "C" __global__ void check_kernel({}, long long n_items)'
            ' {{\n'.format(', '.join(args)) +
            'for (long long i = blockIdx.x * blockDim.x + threadIdx.x;'
            ' i < n_items; i += blockDim.x * gridDim.x) {\n' +
            '\n'.join(refs) + '\n' + body + '\n}\n}\n')


def compile_source(source, directory, name):
    """Compile with nvcc for sm_80; fail the test with nvcc's message."""
    path = os.path.join(str(directory), name + '.cu')
    with open(path, 'w') as f:
        f.write(source)
    result = subprocess.run(
        [nvcc(), '-arch=sm_80', '-c', path, '-o', path + '.o'],
        capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail('nvcc rejected {}:\n{}'.format(name, result.stderr))
