"""The CPU demo behind ``make demo``: data, training, evaluation.

    python -m fasterrcnn.demo [--out demo_out] [--fresh]
        [--config configs/shapes.yaml]

1. writes the synthetic shapes data set (800 trainval, 200 test images) to
   ``<out>/data`` with ``python -m fasterrcnn.data.shapes``;
2. trains with ``fasterrcnn-train --config configs/shapes.yaml`` (or
   ``--config``, e.g. ``configs/shapes_resnet.yaml``, any config of the
   shapes data, whose ``data.dir`` is replaced by ``<out>/data``) into
   ``<out>/train`` (log, loss.png, map.png, snapshots, model.npz); a demo
   that was stopped continues from its newest snapshot;
3. evaluates ``model.npz`` on the test split with ``fasterrcnn-eval``, writing
   ``<out>/eval.json`` and ``<out>/detections/*.png``.

Each step runs the project's own command line, as a user would. The last
line printed is ``demo mAP@0.5 (VOC07 11-point): X.XXX``.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join('configs', 'shapes.yaml')
N_TRAIN, N_TEST, SEED = 800, 200, 0


def run(step, argv):
    """Run one command from the repository root; stop the demo if it fails."""
    print('\n== {}: {}'.format(step, ' '.join(argv)), flush=True)
    start = time.time()
    status = subprocess.call([sys.executable] + argv, cwd=ROOT)
    if status != 0:
        print('demo: the {} step failed (exit status {})'.format(step, status),
              file=sys.stderr)
        sys.exit(status)
    return time.time() - start


def make_data(data_dir):
    """Generate the data set unless a complete one with the same recipe is
    there (generation is deterministic: same seed, same bytes)."""
    recipe = {'n_train': N_TRAIN, 'n_test': N_TEST, 'seed': SEED}
    marker = os.path.join(data_dir, 'demo_recipe.json')
    if os.path.isfile(marker):
        with open(marker) as f:
            if json.load(f) == recipe:
                print('\n== data: {} is already complete'.format(data_dir))
                return 0.
    seconds = run('data', ['-m', 'fasterrcnn.data.shapes', '--out', data_dir,
                           '--n-train', str(N_TRAIN), '--n-test',
                           str(N_TEST), '--seed', str(SEED)])
    with open(marker, 'w') as f:
        json.dump(recipe, f)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='demo_out',
                        help='output directory (default: demo_out)')
    parser.add_argument('--fresh', action='store_true',
                        help='delete the output directory first')
    parser.add_argument('--config', default=os.path.join(ROOT, CONFIG),
                        help='training config for the shapes data (default: '
                        '{}; configs/shapes_resnet.yaml trains a narrow '
                        'ResNet-50)'.format(CONFIG))
    args = parser.parse_args(argv)
    config = os.path.abspath(args.config)
    if not os.path.isfile(config):
        parser.error('--config {}: no such file'.format(args.config))
    out = os.path.abspath(args.out)
    if args.fresh and os.path.isdir(out):
        shutil.rmtree(out)
    data_dir = os.path.join(out, 'data')
    train_dir = os.path.join(out, 'train')
    eval_json = os.path.join(out, 'eval.json')
    start = time.time()
    times = {'data': make_data(data_dir)}
    times['train'] = run('train', [
        '-m', 'fasterrcnn.cli.train', '--config', config, '--out', train_dir,
        '--resume', 'auto', '--set', 'data.dir={}'.format(data_dir)])
    times['eval'] = run('eval', [
        '-m', 'fasterrcnn.cli.evaluate',
        '--model', os.path.join(train_dir, 'model.npz'),
        '--config', config, '--data', data_dir, '--split', 'test',
        '--out', eval_json, '--vis-dir', os.path.join(out, 'detections'),
        '--vis-n', '8'])
    with open(eval_json) as f:
        result = json.load(f)
    print('\ndemo outputs in {}:'.format(out))
    print('  train/log, train/loss.png, train/map.png, train/model.npz, '
          'train/best.npz, eval.json, detections/*.png')
    print('demo time: data {:.0f} s, train {:.0f} s, eval {:.0f} s, total '
          '{:.0f} s'.format(times['data'], times['train'], times['eval'],
                            time.time() - start))
    print('demo mAP@0.5 (VOC07 11-point): {:.3f}'.format(result['map_voc07']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
