"""Run the package's CUDA sources on the CPU: compiled for the host by a C++
compiler, from the very strings the CuPy path hands to CuPy.

A small header stands in for what CuPy and CUDA give a kernel:

* an ElementwiseKernel body runs inside a loop over its element index ``i``
  (``long long``, as CuPy's ``ptrdiff_t``); a ``raw`` parameter is an array
  indexed by a flat index, an output parameter names the current element (a
  reference), any other parameter is a value, and ``T`` is the type
  variable, as CuPy wraps it;
* a RawKernel runs on a block of ``threads`` host threads side by side:
  ``threadIdx``, ``blockDim``, ``extern __shared__`` memory shared by the
  block, and ``__syncthreads()`` a real barrier, so that a missing or
  misplaced barrier can show as a wrong result;
* ``min`` / ``max`` of floats are CUDA's (``fminf`` / ``fmaxf``), ``round``
  is C's (halves away from zero); floating-point contraction is off, as in
  the NumPy twins (nvcc may fuse a multiply-add on a GPU; the GPU tests
  compare there).

The library is built once per source and parameter list in a temporary
folder and loaded with ctypes. Without a C++ compiler the tests skip with
one reason.
"""

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

import numpy
import pytest

#: CuPy type names of kernel parameters -> (C type, ctypes type, NumPy dtype)
_TYPES = {
    'int32': ('int', ctypes.c_int32, numpy.int32),
    'int64': ('long long', ctypes.c_int64, numpy.int64),
    'uint64': ('unsigned long long', ctypes.c_uint64, numpy.uint64),
    'bool': ('bool', ctypes.c_bool, numpy.bool_),
    'float32': ('float', ctypes.c_float, numpy.float32),
    'float64': ('double', ctypes.c_double, numpy.float64),
}

_HEADER = r'''
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#define __device__
#define __global__
#define __shared__

struct fasterrcnn_dim3 { unsigned int x = 0, y = 0, z = 0; };
static thread_local fasterrcnn_dim3 threadIdx;
static thread_local fasterrcnn_dim3 blockIdx;
static fasterrcnn_dim3 blockDim;
static fasterrcnn_dim3 gridDim;

// A barrier for the threads of one block: __syncthreads. A barrier that
// some thread of the block will never reach (it has returned) cannot
// complete: CUDA leaves that undefined, here every thread stops at once and
// the launch reports it (fasterrcnn_run_block returns 1), never a hang.
struct fasterrcnn_diverged {};
struct fasterrcnn_barrier {
    std::mutex m;
    std::condition_variable cv;
    unsigned int count = 0, generation = 0, size = 1, exited = 0;
    bool broken = false;
    void reset(unsigned int threads) {
        count = generation = exited = 0;
        size = threads;
        broken = false;
    }
    void wait() {
        std::unique_lock<std::mutex> lock(m);
        if (broken || exited) {
            broken = true;
            cv.notify_all();
            throw fasterrcnn_diverged();
        }
        const unsigned int gen = generation;
        if (++count == size) {
            count = 0;
            ++generation;
            cv.notify_all();
            return;
        }
        cv.wait(lock, [&] { return gen != generation || broken; });
        if (gen == generation) throw fasterrcnn_diverged();
    }
    void exit() {
        std::lock_guard<std::mutex> lock(m);
        ++exited;
        if (count) {
            broken = true;
            cv.notify_all();
        }
    }
};
static fasterrcnn_barrier fasterrcnn_block_barrier;
static inline void __syncthreads() { fasterrcnn_block_barrier.wait(); }

// CUDA's min / max: fminf / fmaxf for floats (NaN loses), plain for ints.
static inline float min(float a, float b) { return std::fmin(a, b); }
static inline float max(float a, float b) { return std::fmax(a, b); }
static inline double min(double a, double b) { return std::fmin(a, b); }
static inline double max(double a, double b) { return std::fmax(a, b); }
static inline int min(int a, int b) { return b < a ? b : a; }
static inline int max(int a, int b) { return a < b ? b : a; }
static inline long long min(long long a, long long b) { return b < a ? b : a; }
static inline long long max(long long a, long long b) { return a < b ? b : a; }
using std::ceil;
using std::floor;
using std::round;

template <typename V> struct RawArray {
    V* data;
    V& operator[](long long k) const { return data[k]; }
};

// Runs body() on `threads` host threads as one block; 1 when the threads
// diverged at a barrier, else 0.
static int fasterrcnn_run_block(unsigned int threads,
                                const std::function<void()>& body) {
    blockDim.x = threads;
    gridDim.x = 1;
    fasterrcnn_block_barrier.reset(threads);
    std::vector<std::thread> pool;
    for (unsigned int t = 0; t < threads; ++t)
        pool.emplace_back([t, &body] {
            threadIdx.x = t;
            blockIdx.x = 0;
            try {
                body();
            } catch (const fasterrcnn_diverged&) {
            }
            fasterrcnn_block_barrier.exit();
        });
    for (auto& thread : pool) thread.join();
    return fasterrcnn_block_barrier.broken ? 1 : 0;
}
'''


def compiler():
    """The host C++ compiler, or skip the test with the reason."""
    for name in ('c++', 'g++', 'clang++'):
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.skip('no C++ compiler (c++, g++ or clang++) on PATH: the CUDA '
                'sources cannot be run on the host')


def parse_params(params):
    """``[(raw, cupy type name, name)]`` of a CuPy parameter list."""
    out = []
    for param in params.split(','):
        words = param.split()
        raw = words[0] == 'raw'
        if raw:
            words = words[1:]
        out.append((raw, words[0], words[1]))
    return out


_cache = {}


def _build(source, name):
    """A loaded shared library of ``source`` (cached by its text)."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    if digest in _cache:
        return _cache[digest]
    directory = tempfile.mkdtemp(prefix='fasterrcnn_cuda_host_')
    path = os.path.join(directory, name + '.cpp')
    with open(path, 'w') as f:
        f.write(source)
    library = os.path.join(directory, name + '.so')
    done = subprocess.run(
        [compiler(), '-std=c++17', '-O2', '-ffp-contract=off', '-fPIC',
         '-shared', '-pthread', path, '-o', library],
        capture_output=True, text=True)
    if done.returncode != 0:
        raise CompileError('{} does not compile for the host:\n{}'.format(
            name, done.stderr))
    _cache[digest] = ctypes.CDLL(library)
    return _cache[digest]


class CompileError(Exception):
    """The host compiler rejected a kernel."""


class ElementwiseKernel(object):
    """A CuPy ElementwiseKernel's text, compiled for the host.

    Args:
        in_params, out_params, body (str): as given to
            ``cupy.ElementwiseKernel``.
        preamble (str): likewise.
        type_name (str): what ``T`` is: ``'float32'`` or ``'float64'``.
        name (str): for messages and file names.

    Called as the CuPy kernel is, with every parameter in order (NumPy
    arrays for ``raw`` and output parameters, values for the others) and
    ``size``, the number of elements ``i`` runs over; the outputs are
    written in place.
    """

    def __init__(self, in_params, out_params, body, preamble='',
                 type_name='float32', name='kernel'):
        self.params = (
            [(raw, t, n, False) for raw, t, n in parse_params(in_params)] +
            [(raw, t, n, True) for raw, t, n in parse_params(out_params)])
        self.type_name = type_name
        args, setup = [], []
        for raw, cupy_type, pname, is_output in self.params:
            ctype = self._types(cupy_type)[0]
            if raw:
                args.append('{}* _raw_{}'.format(ctype, pname))
                setup.append('RawArray<{0}> {1}{{_raw_{1}}};'.format(
                    ctype, pname))
            elif is_output:
                args.append('{}* _out_{}'.format(ctype, pname))
            else:
                args.append('const {} {}'.format(ctype, pname))
        refs = ['{0}& {1} = _out_{1}[i];'.format(
            self._types(t)[0], n) for raw, t, n, out in self.params
            if out and not raw]
        source = (_HEADER + 'typedef {} T;\n'.format(
            _TYPES[type_name][0]) + preamble + '\nextern "C" void '
            'run_kernel({}, long long n_items) {{\n'.format(', '.join(args)) +
            '\n'.join(setup) + '\nfor (long long i = 0; i < n_items; ++i) '
            '{\n' + '\n'.join(refs) + '\n' + body + '\n}\n}\n')
        self.function = _build(source, name).run_kernel
        self.function.restype = None

    def _types(self, cupy_type):
        return _TYPES[self.type_name if cupy_type == 'T' else cupy_type]

    def __call__(self, *args, size):
        if len(args) != len(self.params):
            raise TypeError('{} arguments for {} parameters'.format(
                len(args), len(self.params)))
        c_args, keep = [], []
        for value, (raw, cupy_type, pname, is_output) in zip(args,
                                                             self.params):
            _, c_scalar, dtype = self._types(cupy_type)
            if raw or is_output:
                if not (isinstance(value, numpy.ndarray) and
                        value.dtype == dtype and
                        value.flags.c_contiguous):
                    raise TypeError('{}: a C-contiguous {} array is '
                                    'needed'.format(pname,
                                                    numpy.dtype(dtype)))
                keep.append(value)
                c_args.append(value.ctypes.data_as(ctypes.c_void_p))
            else:
                c_args.append(c_scalar(value))
        self.function(*c_args, ctypes.c_int64(size))


def raw_kernel(source, launcher, name='raw_kernel'):
    """A CuPy RawKernel's text compiled for the host with ``launcher``, C++
    source that defines ``extern "C"`` entry points calling the kernel
    through ``fasterrcnn_run_block(threads, body)``; returns the loaded
    library."""
    return _build(_HEADER + shared_declarations(source) + source + '\n' +
                  launcher, name)


def shared_declarations(source):
    """Definitions of the ``extern __shared__`` arrays a RawKernel declares
    (the block's shared memory, ``size`` elements each)."""
    found = re.findall(r'extern\s+__shared__\s+([\w\s]+?)\s+(\w+)\s*\[\s*\]',
                       source)
    return ''.join('{} {}[1 << 16];\n'.format(ctype, name)
                   for ctype, name in found)


def mutated(kernel, which, old, new):
    """An ElementwiseKernel spec ``(in_params, out_params, body,
    preamble)`` with the first ``old`` of its body (``which`` anything but
    ``'preamble'``) or of its preamble replaced by ``new``: one changed
    operator or index, for the tests that show the comparison catches it.
    """
    in_params, out_params, body, preamble = kernel
    if which == 'preamble':
        assert old in preamble
        return in_params, out_params, body, preamble.replace(old, new, 1)
    assert old in body
    return in_params, out_params, body.replace(old, new, 1), preamble
