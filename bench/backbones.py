"""Seconds per training iteration and per ``predict`` of each backbone at
full size, and peak memory, on this machine.

    python bench/backbones.py [--size 600 800] [--repeat 3]
        [--backbones vgg16 resnet50 resnet101] [--roi-op pool] [--json FILE]

Each backbone runs in a process of its own (its peak memory is its own):
the Trainer's own iteration (the config's defaults for that backbone,
random weights, batch size 1) on synthetic shapes images of ``--size``,
and ``predict`` of one raw image of that size with the 'evaluate' preset.
Every figure is the median of ``--repeat`` runs after one warm-up.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)

from fasterrcnn.backend import keep_freed_memory

from timing import median_time
from train_step import build, device_sync, peak_memory, time_predict

BACKBONES = ('vgg16', 'resnet50', 'resnet101')


def run_one(root, backbone, size, repeat, roi_op):
    """One backbone's figures (a dict)."""
    keep_freed_memory()
    sync = device_sync(-1)
    trainer, model = build(root, -1, size, extra=[
        'model.backbone=' + backbone, 'model.roi_op=' + roi_op])
    updater = trainer.updater
    observation = {}

    def step():
        with trainer.reporter.scope(observation):
            updater.update()

    iteration = median_time(step, repeat, sync)
    return {'backbone': backbone, 'roi_op': roi_op, 'size': list(size),
            'repeat': repeat, 'iteration': iteration,
            'predict': time_predict(model, size, repeat, sync),
            'params': int(sum(p.size for p in model.params())),
            'memory': peak_memory(-1)[1]}


def format_table(results):
    lines = ['| backbone | RoI op | parameters | s / iteration | '
             's / predict | peak memory |', '|---|---|---|---|---|---|']
    for r in results:
        lines.append('| {} | {} | {:.1f} M | {:.2f} | {:.2f} | {:.1f} GB |'
                     .format(r['backbone'], r['roi_op'], r['params'] / 1e6,
                             r['iteration'], r['predict'],
                             r['memory'] / 2 ** 30))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, nargs=2, default=(600, 800))
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--backbones', nargs='+', default=list(BACKBONES),
                        choices=BACKBONES)
    parser.add_argument('--roi-op', default='pool', choices=('pool',
                                                             'align'))
    parser.add_argument('--json', metavar='FILE')
    parser.add_argument('--one', help=argparse.SUPPRESS)
    parser.add_argument('--root', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.root, args.one, args.size,
                                 args.repeat, args.roi_op)))
        return 0
    results = []
    with tempfile.TemporaryDirectory() as root:
        for backbone in args.backbones:
            start = time.time()
            done = subprocess.run(
                [sys.executable, os.path.abspath(__file__), '--one',
                 backbone, '--root', os.path.join(root, backbone),
                 '--size', str(args.size[0]), str(args.size[1]),
                 '--repeat', str(args.repeat), '--roi-op', args.roi_op],
                capture_output=True, text=True)
            if done.returncode != 0:
                sys.stderr.write(done.stderr)
                return done.returncode
            results.append(json.loads(done.stdout.splitlines()[-1]))
            print('{}: {:.0f} s'.format(backbone, time.time() - start),
                  file=sys.stderr)
    print(format_table(results))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
