"""How far the float32 comparison moves with the BLAS kernel and threads.

    python bench/golden_spread.py [--pythons PY [PY ...]]
        [--kernels default Haswell SkylakeX Zen Sandybridge Prescott]
        [--threads 1 2] [--files FILE.npz ...] [--truth-python PY]
        --json OUT.json --markdown OUT.md
    python bench/golden_spread.py --from-json OUT.json --markdown OUT.md

Runs ``fasterrcnn-compare golden`` on the float32 golden files
once per configuration (each interpreter of ``--pythons``, i.e. numpy 1 and
numpy 2, times each ``OPENBLAS_CORETYPE`` of ``--kernels``, times each
thread count: ``OPENBLAS_NUM_THREADS`` and the cores the process may use),
in a fresh process each. A configuration whose BLAS reports the same
kernel, version and thread count as one already run is skipped (numpy 2's
OpenBLAS maps Zen to Haswell, for one). Then once with ``--dtype float64``
on our side: against float32 files that measures the PyTorch version's own
float32 error, our float64 run being the truth (it agrees with the PyTorch
version's float64 run to 1e-14, ``tests/data/golden/sfr_seed2_f64.npz``).

Writes every row of every run to ``--json`` and to ``--markdown`` one table
per tolerance rule (the worst measure over all stages and configurations,
where it was, the truth column, the rule's value and the margin) and one
row per stage. The tolerances in ``fasterrcnn/interop/tolerance.py`` are
set from this table at three times the worst spread or more;
``--from-json`` writes the tables again from a run's JSON, with the
tolerances as they are now.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, 'tests', 'data', 'golden')
FILES = [os.path.join(GOLDEN, name) for name in
         ('sfr_seed0.npz', 'sfr_seed1.npz', 'sfr_seed2_steps.npz')]
KERNELS = ('default', 'Haswell', 'SkylakeX', 'Zen', 'Sandybridge',
           'Prescott')

_BLAS_INFO = (
    'import numpy, threadpoolctl; '
    'b = [i for i in threadpoolctl.threadpool_info() '
    "if i['internal_api'] == 'openblas'][0]; "
    "print(numpy.__version__, b['architecture'], b['version'], "
    "b['num_threads'])")


def _env(kernel, threads):
    env = dict(os.environ)
    env.pop('OPENBLAS_CORETYPE', None)
    if kernel != 'default':
        env['OPENBLAS_CORETYPE'] = kernel
    env['OPENBLAS_NUM_THREADS'] = str(threads)
    return env


def _command(python, threads, args):
    # The process may use `threads` cores: our CPU kernels size their
    # thread pool by the affinity mask, the BLAS by OPENBLAS_NUM_THREADS.
    cores = ','.join(str(i) for i in range(threads))
    return ['taskset', '-c', cores, python] + args


def blas_of(python, kernel, threads):
    """``(numpy version, kernel, OpenBLAS version, threads)`` as the BLAS
    reports them in that configuration."""
    out = subprocess.run(_command(python, threads, ['-c', _BLAS_INFO]),
                         env=_env(kernel, threads), check=True,
                         capture_output=True, text=True).stdout.split()
    return tuple(out)


def compare_rows(python, kernel, threads, files, dtype=None):
    """The rows of ``compare golden`` in that configuration."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'rows.json')
        args = ['-m', 'fasterrcnn.interop.compare', 'golden', '--json',
                out] + \
            (['--dtype', dtype] if dtype else []) + list(files)
        subprocess.run(_command(python, threads, args),
                       env=_env(kernel, threads), cwd=ROOT,
                       stdout=subprocess.DEVNULL, check=False)
        with open(out) as f:
            return json.load(f)


def _key(row):
    return row['file'], row['stage']


def summarise(runs, truth):
    """Per stage: the worst measure of each kernel, the truth's, the rule.

    Args:
        runs (list of dict): ``{'config': {...}, 'rows': [...]}``.
        truth (list of dict): the rows of our float64 side.
    """
    stages = collections.OrderedDict()
    for run in runs:
        kernel = run['config']['kernel']
        for row in run['rows']:
            if row.get('rule') is None:
                continue
            entry = stages.setdefault(_key(row), {
                'file': row['file'], 'stage': row['stage'],
                'rule': row['rule'], 'tolerance': row['tolerance'],
                'kernels': {}, 'worst': -1., 'where': None, 'ok': True})
            value = row['measure']
            entry['kernels'][kernel] = max(entry['kernels'].get(kernel, 0.),
                                           value)
            entry['ok'] = entry['ok'] and row['ok']
            if value > entry['worst']:
                entry['worst'] = value
                entry['where'] = _label(run['config'])
    truth = {_key(row): row['measure'] for row in truth
             if row.get('rule') is not None}
    for key, entry in stages.items():
        entry['truth'] = truth.get(key)
    return list(stages.values())


def _label(config):
    return 'numpy {} {} {}t'.format(config['numpy'], config['blas'],
                                    config['threads'])


def _fmt(value):
    return '-' if value is None else '{:.3g}'.format(value)


def _rule_value(rule, stage_entry, tolerances):
    value = tolerances.get(rule)
    if isinstance(value, (list, tuple)):
        step = int(stage_entry['stage'].split()[1]) \
            if stage_entry['stage'].startswith('step ') else len(value)
        value = value[min(step, len(value)) - 1]
    if rule in ('same_labels', 'box_recall', 'detection_recall'):
        return 1. - value
    return value


def markdown(stages, runs, kernels, tolerances, command):
    """The tables as Markdown text."""
    lines = ['<!-- Written by bench/golden_spread.py; do not edit. -->',
             '', 'Made by:', '', '    ' + command, '',
             'Configurations run (numpy, the kernel OpenBLAS reported, '
             'threads):', '']
    for run in runs:
        lines.append('- {} (asked: {}), {:.0f} s'.format(
            _label(run['config']), run['config']['kernel'],
            run['seconds']))
    lines += ['', '## Worst measure per rule', '',
              '| file | rule | worst | where (stage; configuration) | '
              'PyTorch float32 vs float64 truth | tolerance | '
              'tolerance / worst |', '|---|---|---|---|---|---|---|']
    groups = collections.OrderedDict()
    for entry in stages:
        rule = entry['rule']
        if entry['stage'].startswith('step '):
            rule += ' (step {})'.format(entry['stage'].split()[1])
        groups.setdefault((entry['file'], rule), []).append(entry)
    for (file, rule), entries in groups.items():
        worst = max(entries, key=lambda e: e['worst'])
        truths = [e['truth'] for e in entries if e['truth'] is not None]
        value = _rule_value(worst['rule'], worst, tolerances)
        margin = value / worst['worst'] if worst['worst'] > 0 else \
            float('inf')
        lines.append('| {} | {} | {} | {}; {} | {} | {} | {} |'.format(
            file, rule, _fmt(worst['worst']), worst['stage'],
            worst['where'], _fmt(max(truths) if truths else None),
            _fmt(value), 'exact' if margin == float('inf') else
            '{:.1f}'.format(margin)))
    lines += ['', '## Every stage', '',
              '| file | stage | rule | ' + ' | '.join(kernels) +
              ' | PyTorch float32 vs truth | tolerance |',
              '|---|---|---|' + '---|' * len(kernels) + '---|---|']
    for entry in stages:
        lines.append('| {} | {} | {} | {} | {} | {} |'.format(
            entry['file'], entry['stage'], entry['rule'], ' | '.join(
                _fmt(entry['kernels'].get(k)) for k in kernels),
            _fmt(entry['truth']),
            _fmt(_rule_value(entry['rule'], entry, tolerances))))
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pythons', nargs='+', default=[sys.executable])
    parser.add_argument('--kernels', nargs='+', default=list(KERNELS))
    parser.add_argument('--threads', nargs='+', type=int, default=[1, 2])
    parser.add_argument('--files', nargs='+', default=FILES)
    parser.add_argument('--truth-python', default=sys.executable)
    parser.add_argument('--json')
    parser.add_argument('--from-json', metavar='OUT.json')
    parser.add_argument('--markdown', required=True)
    args = parser.parse_args(argv)
    if not (args.json or args.from_json):
        parser.error('--json or --from-json is required')

    import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
    from fasterrcnn.interop.tolerance import TOLERANCES

    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        with open(args.markdown, 'w') as f:
            f.write(markdown(summarise(saved['runs'], saved['truth']),
                             saved['runs'], saved['kernels'], TOLERANCES,
                             saved['command']))
        return

    runs, seen = [], set()
    for python in args.pythons:
        for kernel in args.kernels:
            for threads in args.threads:
                blas = blas_of(python, kernel, threads)
                if blas in seen:
                    print('skip {} {} {}: same as a run before ({})'.format(
                        python, kernel, threads, ' '.join(blas)),
                        flush=True)
                    continue
                seen.add(blas)
                start = time.time()
                rows = compare_rows(python, kernel, threads, args.files)
                config = {'python': python, 'kernel': kernel,
                          'threads': threads, 'numpy': blas[0],
                          'blas': blas[1], 'openblas': blas[2]}
                runs.append({'config': config, 'rows': rows,
                             'seconds': time.time() - start})
                failed = sum(not row['ok'] for row in rows)
                print('{}: {} rows, {} outside tolerance, {:.0f} s'.format(
                    _label(config), len(rows), failed, runs[-1]['seconds']),
                    flush=True)
    truth = compare_rows(args.truth_python, 'default', 2, args.files,
                         dtype='float64')
    stages = summarise(runs, truth)
    command = 'python bench/golden_spread.py ' + ' '.join(
        a.replace(ROOT + os.sep, '') for a in (argv or sys.argv[1:]))
    with open(args.json, 'w') as f:
        json.dump({'runs': runs, 'truth': truth, 'kernels': args.kernels,
                   'command': command}, f)
    with open(args.markdown, 'w') as f:
        f.write(markdown(stages, runs, args.kernels, TOLERANCES, command))


if __name__ == '__main__':
    main()
