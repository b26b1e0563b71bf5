"""Everything a lent CUDA machine should prove and measure, in one run.

    python bench/gpu_check.py --out DIR [--gpu 0] [--dry-run]

(``make gpu-check`` runs it through ``bench/gpu_check.sh``, which first
installs chainer from the wheel carried in ``.gpu/``.) Steps, each recorded
even when another fails:

1. ``versions``: GPU, driver, CUDA, cupy, numpy, chainer, Python;
2. ``pytest_gpu``: ``pytest -m gpu`` (every CuPy kernel against its NumPy
   twin, RoI pooling's backward included);
3. ``golden``: the golden comparison with the model on the GPU, the same
   stages and tolerances as on the CPU;
4. ``ops``: RoI pooling and NMS against torchvision on the same GPU
   (``bench/ops.py``); ``train_step``: one training iteration of full VGG16
   Faster R-CNN at 600 x 800 broken down by stage, and ``predict``
   (``bench/train_step.py``);
5. ``trainer``: ``configs/shapes.yaml`` trained on the GPU through
   ``train_chainer.py`` (iterator, converter, updater, evaluator,
   snapshots), iterations per second and the loss;
6. ``host_copies``: device-to-host copies per training iteration, with the
   lines of the project that asked for them;
7. ``gpu_check.json`` and ``gpu_check.txt`` in DIR.

``--dry-run`` runs every step on the CPU with tiny sizes (one golden file,
the demo's narrow model, a few iterations), so that nothing fails on the
device for a reason that shows here. The exit status is 1 when any step
failed.
"""

import argparse
import collections
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path[:0] = [p for p in (ROOT, BENCH) if p not in sys.path]

import numpy  # noqa: E402

import fasterrcnn  # noqa: E402,F401  isort: skip (compat shims first)
import chainer  # noqa: E402

GOLDEN_DIR = os.path.join(ROOT, 'tests', 'data', 'golden')
#: Where ``make gpu-wheels SFR=PATH`` puts the PyTorch version's checkout.
DEFAULT_TORCH_REPO = os.path.join(ROOT, '.gpu', 'simple-faster-rcnn-pytorch')
#: Methods of cupy.ndarray that copy device memory to the host.
HOST_COPY_METHODS = ('get', 'item', 'tolist', '__float__', '__int__',
                     '__bool__', '__index__', '__complex__')


# --------------------------------------------------------------------------
# Device-to-host copies


@contextlib.contextmanager
def count_host_copies(array_class, root=ROOT):
    """Counts calls of ``array_class``'s host-copy methods in the block.

    Each call is attributed to the innermost frame under ``root`` outside
    this file (the project line that asked for the copy); calls that one
    host-copy method makes of another are counted once.

    Args:
        array_class (type): ``cupy.ndarray`` (a Python subclass of CuPy's
            Cython base, so its methods can be wrapped), or a stand-in.
        root (str): the directory whose frames name a call site.

    Yields:
        collections.Counter: ``{'file:line': count}``, filled in as the
        block runs.
    """
    sites = collections.Counter()
    depth = [0]
    this_file = os.path.abspath(__file__)

    def site():
        frame = sys._getframe(2)
        while frame is not None:
            name = os.path.abspath(frame.f_code.co_filename)
            relative = os.path.relpath(name, root)
            # Hidden folders under the root hold installed packages (.gpu/,
            # .venv/): their frames are not the project's.
            if name.startswith(root + os.sep) and name != this_file and \
                    not relative.startswith('.'):
                return '{}:{}'.format(relative, frame.f_lineno)
            frame = frame.f_back
        return '(outside the project)'

    def wrap(method):
        def counted(self, *args, **kwargs):
            if depth[0] == 0:
                sites[site()] += 1
            depth[0] += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                depth[0] -= 1
        return counted

    saved = {}
    for name in HOST_COPY_METHODS:
        method = getattr(array_class, name, None)
        if method is None:
            continue
        saved[name] = array_class.__dict__.get(name)
        setattr(array_class, name, wrap(method))
    try:
        yield sites
    finally:
        for name, own in saved.items():
            if own is None:
                delattr(array_class, name)
            else:
                setattr(array_class, name, own)


# --------------------------------------------------------------------------
# The steps


def step_versions(args):
    info = {'python': platform.python_version(), 'numpy': numpy.__version__,
            'chainer': chainer.__version__, 'platform': platform.platform()}
    try:
        import cupy
    except ImportError:
        info['cupy'] = None
    else:
        info['cupy'] = cupy.__version__
        if args.gpu >= 0:
            runtime = cupy.cuda.runtime
            props = runtime.getDeviceProperties(args.gpu)
            name = props['name']
            info['gpu'] = name.decode() if isinstance(name, bytes) else name
            info['gpu_memory_gib'] = round(props['totalGlobalMem'] / 2 ** 30,
                                           1)
            info['cuda_runtime'] = runtime.runtimeGetVersion()
            info['cuda_driver'] = runtime.driverGetVersion()
            info['cudnn'] = bool(chainer.backends.cuda.cudnn_enabled)
    try:
        smi = subprocess.run(
            ['nvidia-smi', '--query-gpu=name,driver_version,memory.total',
             '--format=csv,noheader'], capture_output=True, text=True,
            timeout=30)
        info['nvidia_smi'] = smi.stdout.strip() or smi.stderr.strip()
    except (OSError, subprocess.TimeoutExpired):
        info['nvidia_smi'] = None
    return info


def _junit_counts(path):
    import xml.etree.ElementTree as ET
    suite = ET.parse(path).getroot()
    if suite.tag == 'testsuites':
        suite = suite[0]
    counts = {k: int(suite.get(k, 0))
              for k in ('tests', 'failures', 'errors', 'skipped')}
    counts['passed'] = counts['tests'] - counts['failures'] - \
        counts['errors'] - counts['skipped']
    failed = []
    for case in suite.iter('testcase'):
        if case.find('failure') is not None or case.find('error') is not None:
            failed.append('{}::{}'.format(case.get('classname'),
                                          case.get('name')))
    counts['failed_tests'] = failed
    return counts


def step_pytest_gpu(args):
    xml = os.path.join(args.out, 'pytest_gpu.xml')
    log = os.path.join(args.out, 'pytest_gpu.log')
    command = [sys.executable, '-m', 'pytest', '-q', '-m', 'gpu', '-p',
               'no:cacheprovider', '--junitxml', xml,
               os.path.join(ROOT, 'tests')]
    with open(log, 'w') as f:
        code = subprocess.call(command, cwd=ROOT, stdout=f,
                               stderr=subprocess.STDOUT)
    result = _junit_counts(xml)
    result['exit_status'] = code
    if code not in (0, 5) or result['failures'] or result['errors']:
        raise StepFailed('pytest -m gpu: {} failed, {} errors (see {})'
                         .format(result['failures'], result['errors'], log),
                         result)
    if args.gpu >= 0 and result['passed'] == 0:
        raise StepFailed('pytest -m gpu ran no test on the GPU', result)
    return result


def step_golden(args):
    from fasterrcnn.interop.golden import compare_golden
    names = ['sfr_seed1.npz'] if args.dry_run else ['sfr_seed0.npz',
                                                    'sfr_seed1.npz']
    result = {'device': args.gpu, 'files': {}}
    bad = []
    for name in names:
        start = time.perf_counter()
        rows = compare_golden(os.path.join(GOLDEN_DIR, name),
                              device=args.gpu)
        failed = [r for r in rows if not r.ok]
        result['files'][name] = {
            'stages': len(rows), 'within_tolerance': len(rows) - len(failed),
            'seconds': round(time.perf_counter() - start, 1),
            'failed': [{'stage': r.stage, 'diff': r.diff, 'scale': r.scale,
                        'tolerance': r.tolerance} for r in failed]}
        bad += ['{} {}'.format(name, r.stage) for r in failed]
    if bad:
        raise StepFailed('golden stages out of tolerance: ' + ', '.join(bad),
                         result)
    return result


def step_ops(args):
    import ops
    rows = ops.measure(args.gpu, repeat=1 if args.dry_run else 7,
                       builtin=False)
    return {'rows': rows, 'table': ops.format_table(rows)}


def torch_side(args):
    """``(checkout, None)`` of the PyTorch version to time beside ours, or
    ``(None, why not)``."""
    import importlib.util
    repo = args.torch_repo or DEFAULT_TORCH_REPO
    if not os.path.isfile(os.path.join(repo, 'trainer.py')):
        return None, ('not run: no checkout of the PyTorch version at {} '
                      '(make gpu-wheels SFR=PATH carries one in .gpu/)'
                      .format(os.path.relpath(repo, ROOT)))
    # The PyTorch version imports torchvision and, for its data, skimage.
    missing = [name for name in ('torch', 'torchvision', 'skimage')
               if importlib.util.find_spec(name) is None]
    if missing:
        return None, 'not run: {} not importable here'.format(
            ', '.join(missing))
    return repo, None


def step_train_step(args):
    """One training iteration and one predict, ours and (its checkout
    carried, torch importable) the PyTorch version's on the same device
    from the same weights, each side in a process of its own
    (``bench/train_step.py``)."""
    import train_step
    repo, why_not = torch_side(args)
    size, repeat = ((192, 256), 1) if args.dry_run else ((600, 800), 5)
    argv = ['--gpu', str(args.gpu), '--repeat', str(repeat), '--size',
            str(size[0]), str(size[1]), '--sides', 'ours']
    if repo is None and args.dry_run:
        argv.append('--demo')  # the PyTorch version builds full VGG16 only
    if repo is not None:
        argv += ['torch', '--torch-repo', repo]
    figures = os.path.join(args.out, 'train_step.json')
    if train_step.main(argv + ['--json', figures]) != 0:
        raise StepFailed('bench/train_step.py failed')
    with open(figures) as f:
        sides = json.load(f)
    result = dict(sides['ours'])
    result['table'] = train_step.format_table(
        {k: v for k, v in sides.items() if k in ('ours', 'torch')})
    if repo is None:
        result['torch'] = why_not
    else:
        torch = sides['torch']
        result['torch'] = {'iteration': torch['iteration'],
                           'predict': torch['predict']}
        # Below 1: ours is faster.
        result['ratio_iteration'] = result['iteration'] / torch['iteration']
        result['ratio_predict'] = result['predict'] / torch['predict']
    return result


def step_trainer(args):
    from fasterrcnn.cli import train as train_cli
    from fasterrcnn.data.shapes import generate_shapes
    root = os.path.join(args.out, 'shapes')
    data = os.path.join(root, 'data')
    iterations = 6 if args.dry_run else 300
    n_train, n_test = (4, 2) if args.dry_run else (200, 50)
    generate_shapes(data, n_train=n_train, n_test=n_test, seed=0)
    out = os.path.join(root, 'run')
    argv = ['--config', os.path.join(ROOT, 'configs', 'shapes.yaml'),
            '--out', out, '--gpu', str(args.gpu), '--no-progress',
            '--set', 'data.dir=' + json.dumps(data),
            '--set', 'train.iterations={}'.format(iterations),
            '--set', 'train.snapshot_every={}'.format(iterations // 2),
            '--set', 'train.log_every={}'.format(iterations // 3),
            '--set', 'eval.every=[{}]'.format(iterations),
            '--set', 'train.lr_shift_at=[{}]'.format(iterations * 2 // 3)]
    if args.dry_run:
        argv += ['--set', 'model.min_size=96', '--set', 'model.max_size=128']
    start = time.perf_counter()
    with open(os.path.join(root, 'stdout.txt'), 'w') as f, \
            contextlib.redirect_stdout(f):
        code = train_cli.main(argv)
    seconds = time.perf_counter() - start
    if code != 0:
        raise StepFailed('train_chainer.py exited with {}'.format(code))
    with open(os.path.join(out, 'log')) as f:
        log = json.load(f)
    last = log[-1]
    result = {'iterations': iterations, 'seconds': round(seconds, 2),
              'iterations_per_second': round(iterations / seconds, 2),
              'first_loss': log[0].get('main/loss'),
              'last_loss': last.get('main/loss'),
              'map': last.get('validation/main/map'),
              'snapshots': sorted(n for n in os.listdir(out)
                                  if n.startswith('snapshot_iter_'))}
    if not os.path.isfile(os.path.join(out, 'model.npz')):
        raise StepFailed('no model.npz written', result)
    return result


def step_host_copies(args):
    if args.gpu < 0:
        return {'skipped': 'no GPU: there is no device memory to copy from '
                '(the counter itself is tested on the CPU)'}
    import cupy

    import train_step

    # The counter must see a real cupy.ndarray's copies (its methods come
    # from a Cython base class): three known ones first.
    probe = cupy.arange(4, dtype=numpy.float32)
    with count_host_copies(cupy.ndarray) as check:
        probe.get()
        float(probe[1])
        probe.tolist()
    if sum(check.values()) != 3:
        raise StepFailed('the host-copy counter saw {} of 3 copies of a '
                         'cupy.ndarray'.format(sum(check.values())),
                         {'probe_sites': dict(check)})
    iterations = 5
    with tempfile.TemporaryDirectory() as root:
        trainer, _ = train_step.build(root, args.gpu, size=(600, 800))
        updater = trainer.updater
        with trainer.reporter.scope({}):
            updater.update()  # warm-up
            with count_host_copies(cupy.ndarray) as sites:
                for _ in range(iterations):
                    updater.update()
    total = sum(sites.values())
    return {'counter_check': '3 of 3 copies of a cupy.ndarray counted',
            'iterations': iterations,
            'per_iteration': total / float(iterations),
            'sites': {k: v / float(iterations) for k, v in
                      sites.most_common()}}


STEPS = [('versions', step_versions), ('pytest_gpu', step_pytest_gpu),
         ('golden', step_golden), ('ops', step_ops),
         ('train_step', step_train_step), ('trainer', step_trainer),
         ('host_copies', step_host_copies)]


class StepFailed(Exception):
    """A step ran but its result is wrong; ``args[1]`` holds what it got."""


# --------------------------------------------------------------------------
# Report


def _short(value):
    if isinstance(value, float):
        return '{:.4g}'.format(value)
    return str(value)


def format_report(report):
    """The report as text: one line per step, then each step's tables."""
    lines = ['gpu_check ({}), {}'.format(
        'dry run on the CPU' if report['dry_run'] else
        'GPU {}'.format(report['gpu']), report['date'])]
    for name, step in report['steps'].items():
        lines.append('{:<12} {:<6} {:>7.1f} s  {}'.format(
            name, step['status'], step['seconds'], step.get('error', '')))
    for name, step in report['steps'].items():
        result = step.get('result') or {}
        lines.append('')
        lines.append('## ' + name)
        if 'table' in result:
            lines.append(result['table'])
        for key, value in result.items():
            if key not in ('table', 'rows', 'stages'):
                lines.append('- {}: {}'.format(key, _short(value)))
        if 'traceback' in step:
            lines.append(step['traceback'])
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--gpu', type=int, default=0)
    parser.add_argument('--dry-run', action='store_true',
                        help='every step on the CPU with tiny sizes')
    parser.add_argument('--steps', nargs='+', choices=[n for n, _ in STEPS],
                        help='only these steps')
    parser.add_argument('--torch-repo', metavar='PATH',
                        help='an unmodified checkout of the PyTorch version, '
                             'timed beside ours (default: .gpu/simple-faster-'
                             'rcnn-pytorch when there)')
    args = parser.parse_args(argv)
    if args.dry_run:
        args.gpu = -1
    os.makedirs(args.out, exist_ok=True)
    args.out = os.path.abspath(args.out)
    from fasterrcnn.backend import gpu_available
    report = {'dry_run': args.dry_run, 'gpu': args.gpu,
              'date': time.strftime('%Y-%m-%d %H:%M:%S'), 'steps': {}}
    if args.gpu >= 0 and not gpu_available():
        print('gpu_check: error: no usable CUDA device (use --dry-run on a '
              'machine without one)', file=sys.stderr)
        return 2
    failed = False
    for name, run in STEPS:
        if args.steps and name not in args.steps:
            continue
        print('[gpu_check] {} ...'.format(name), file=sys.stderr, flush=True)
        start = time.perf_counter()
        step = {}
        try:
            step['result'] = run(args)
            step['status'] = 'ok'
        except Exception as e:  # noqa: B902  every failure is recorded
            failed = True
            step['status'] = 'FAILED'
            step['error'] = ' '.join(str(e.args[0] if e.args else e).split())
            if isinstance(e, StepFailed) and len(e.args) > 1:
                step['result'] = e.args[1]
            step['traceback'] = traceback.format_exc()[-3000:]
        step['seconds'] = time.perf_counter() - start
        report['steps'][name] = step
        print('[gpu_check] {} {} in {:.1f} s {}'.format(
            name, step['status'], step['seconds'], step.get('error', '')),
            file=sys.stderr, flush=True)
        _write(report, args.out)  # nothing lost if a later step hangs
    print(format_report(report))
    return 1 if failed else 0


def _write(report, out):
    with open(os.path.join(out, 'gpu_check.json'), 'w') as f:
        json.dump(report, f, indent=1, default=_short)
    with open(os.path.join(out, 'gpu_check.txt'), 'w') as f:
        f.write(format_report(report))


if __name__ == '__main__':
    sys.exit(main())
