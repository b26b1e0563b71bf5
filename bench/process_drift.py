"""How far P processes drift from one process at the same global batch.

    python bench/process_drift.py [--config configs/shapes.yaml]
        [--processes 2] [--batch 2] [--updates 1 3 5 8] [--json OUT.json]

Trains the same config from the same seed on a small shapes data set
(16 training images of the config's size) once in one process and once
under ``mpiexec -n P`` (ChainerMN's ``naive`` communicator), both at global
batch ``--batch``, for each number of ``--updates``, and prints the
largest difference of any weight, and of any bias, relative to that
parameter's largest value. Both runs see the same data order and draw the
same flips and targets (fasterrcnn/creators/seeding.py); what differs is
the order in which float32 gradients are summed (one process sums the
batch inside each matrix product, P processes sum their shares in the
all-reduce), and
SGD from scratch carries that rounding to proposals that cross an NMS or
top-k boundary, from where the runs part.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy

import fasterrcnn  # noqa: F401  isort: skip (compat shims first)
from fasterrcnn.data.shapes import generate_shapes
from fasterrcnn.weights.model_io import load_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train(config, data, out, updates, batch, processes):
    command = [sys.executable, os.path.join(ROOT, 'train_chainer.py'),
               '--config', config, '--out', out, '--no-progress',
               '--iterations', str(updates),
               '--set', 'data.dir=' + data,
               '--set', 'train.batch_size={}'.format(batch),
               '--set', 'train.log_every=1', '--set', 'eval.every=[]',
               '--set', 'train.snapshot_every={}'.format(updates)]
    if processes > 1:
        mpiexec = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
        command = [mpiexec, '-n', str(processes)] + command + [
            '--communicator', 'naive']
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    model, _ = load_model(os.path.join(out, 'model.npz'))
    return {name: p.array.copy() for name, p in model.namedparams()}


def largest_difference(a, b, biases):
    """Largest ``max |a - b| / max |b|`` over the weights (``biases``
    False) or the biases, and where.

    The two are apart because the biases start at zero: after a few
    updates a bias is a sum of gradients that are themselves sums over
    every position of the feature map with much cancellation, so the
    rounding of that sum is large next to the bias's own size.
    """
    worst = (0., None)
    for name in b:
        if (b[name].ndim == 1) != biases:
            continue
        scale = float(numpy.abs(b[name]).max()) or 1.
        value = float(numpy.abs(a[name] - b[name]).max()) / scale
        worst = max(worst, (value, name), key=lambda w: w[0])
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config',
                        default=os.path.join(ROOT, 'configs', 'shapes.yaml'))
    parser.add_argument('--processes', type=int, default=2)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--updates', type=int, nargs='+', default=[1, 3, 5, 8])
    parser.add_argument('--json')
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, 'data')
        generate_shapes(data, n_train=16, n_test=2, seed=0)
        for updates in args.updates:
            one = _train(args.config, data, os.path.join(tmp, 'one{}'.format(
                updates)), updates, args.batch, 1)
            many = _train(args.config, data, os.path.join(tmp, 'p{}'.format(
                updates)), updates, args.batch, args.processes)
            weight = largest_difference(many, one, biases=False)
            bias = largest_difference(many, one, biases=True)
            results.append({'updates': updates, 'weights': weight,
                            'biases': bias})
            print('after {} updates: largest relative difference of a '
                  'weight {:.2g} ({}), of a bias {:.2g} ({})'.format(
                      updates, weight[0], weight[1], bias[0], bias[1]),
                  flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
