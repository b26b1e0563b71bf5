"""chainercv's own unit tests, run unchanged against fasterrcnn.chainercv.

    python bench/chainercv_tests.py --chainercv-repo PATH [--out FILE.json]

``PATH`` is a chainercv checkout (a work tree, or a bare git directory, read
at ``HEAD``). The test files of the API that :mod:`fasterrcnn.chainercv`
provides (:data:`TEST_FILES`) are copied into a temporary folder as they
are, with a ``conftest.py`` that installs the ``chainercv`` alias
(:func:`fasterrcnn.chainercv.install_alias`); pytest then runs every case
that needs neither a GPU, nor MPI, nor chainercv's network downloads (its
``slow`` marker). Nothing of chainercv's is imported except those test
files.

Prints passed / failed / errors per file and one line per failing case with
the first line of its error; ``--out`` also writes them as JSON.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

#: chainercv's tests of the API fasterrcnn.chainercv provides (its VOC
#: data set test needs the real data set, downloaded: left out).
TEST_FILES = (
    'tests/evaluations_tests/test_eval_detection_voc.py',
    'tests/extensions_tests/evaluator_tests/'
    'test_detection_voc_evaluator.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/dummy_faster_rcnn.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/test_faster_rcnn.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/'
    'test_faster_rcnn_train_chain.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/'
    'test_faster_rcnn_vgg.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/'
    'test_region_proposal_network.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/utils_tests/'
    'test_anchor_target_creator.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/utils_tests/'
    'test_bbox2loc_loc2bbox.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/utils_tests/'
    'test_generate_anchor_base.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/utils_tests/'
    'test_proposal_creator.py',
    'tests/links_tests/model_tests/faster_rcnn_tests/utils_tests/'
    'test_proposal_target_creator.py',
    'tests/transforms_tests/bbox_tests/test_flip_bbox.py',
    'tests/transforms_tests/bbox_tests/test_resize_bbox.py',
    'tests/transforms_tests/image_tests/test_random_flip.py',
    'tests/transforms_tests/image_tests/test_resize.py',
    'tests/utils_tests/bbox_tests/test_bbox_iou.py',
    'tests/utils_tests/bbox_tests/test_non_maximum_suppression.py',
    'tests/utils_tests/image_tests/test_read_image.py',
    'tests/utils_tests/testing_tests/assertions_tests/'
    'test_assert_is_bbox.py',
    'tests/utils_tests/testing_tests/assertions_tests/'
    'test_assert_is_detection_link.py',
    'tests/utils_tests/testing_tests/test_generate_random_bbox.py',
    'tests/visualizations_tests/test_vis_bbox.py',
    'tests/visualizations_tests/test_vis_image.py',
    'tests/utils_tests/iterator_tests/test_apply_to_iterator.py',
    'tests/utils_tests/iterator_tests/test_progress_hook.py',
    'tests/utils_tests/iterator_tests/test_unzip.py',
    'tests/chainer_experimental_tests/datasets_tests/sliceable_tests/'
    'test_concatenated_dataset.py',
    'tests/chainer_experimental_tests/datasets_tests/sliceable_tests/'
    'test_getter_dataset.py',
    'tests/chainer_experimental_tests/datasets_tests/sliceable_tests/'
    'test_sliceable_dataset.py',
    'tests/chainer_experimental_tests/datasets_tests/sliceable_tests/'
    'test_transform_dataset.py',
    'tests/chainer_experimental_tests/datasets_tests/sliceable_tests/'
    'test_tuple_dataset.py',
)

_CONFTEST = '''\
import fasterrcnn.chainercv

fasterrcnn.chainercv.install_alias()
'''

_PYTEST_INI = '''\
[pytest]
markers =
    gpu: needs a GPU
    slow: downloads or full models
    mpi: needs MPI
    pfnci_skip: skipped on chainercv's CI
'''


def read_source(repo, path):
    """A file of the checkout: from the work tree, else from git HEAD."""
    file = os.path.join(repo, path)
    if os.path.isfile(file):
        with open(file, 'rb') as f:
            return f.read()
    return subprocess.run(['git', '--git-dir', repo, 'show', 'HEAD:' + path],
                          check=True, capture_output=True).stdout


def copy_tests(repo, out):
    """The test files under ``out``, with ``__init__.py`` in each folder."""
    for path in TEST_FILES:
        target = os.path.join(out, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, 'wb') as f:
            f.write(read_source(repo, path))
        folder = os.path.dirname(path)
        while folder:
            open(os.path.join(out, folder, '__init__.py'), 'a').close()
            folder = os.path.dirname(folder)
    with open(os.path.join(out, 'conftest.py'), 'w') as f:
        f.write(_CONFTEST)
    with open(os.path.join(out, 'pytest.ini'), 'w') as f:
        f.write(_PYTEST_INI)


def parse_junit(path):
    """``{file: {'passed', 'failed', 'errors', 'skipped'}}`` and the
    failures ``[(case, first line of the message)]``."""
    per_file, failures = {}, []
    for case in ElementTree.parse(path).iter('testcase'):
        classname = case.get('classname', '')
        name = classname + '::' + case.get('name', '')
        # The module is what precedes the test class (parameterized class
        # names carry their parameters, dots included).
        module = re.match(r'(.*?)(\.Test|$)', classname).group(1)
        counts = per_file.setdefault(module, dict.fromkeys(
            ('passed', 'failed', 'errors', 'skipped'), 0))
        outcome = 'passed'
        for tag, key in (('failure', 'failed'), ('error', 'errors'),
                         ('skipped', 'skipped')):
            found = case.find(tag)
            if found is not None:
                outcome = key
                if key != 'skipped':
                    message = (found.get('message') or found.text or '')
                    failures.append((name, message.strip().split('\n')[0]))
                break
        counts[outcome] += 1
    return per_file, failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--chainercv-repo', required=True,
                        help='a chainercv checkout or bare git directory')
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        copy_tests(args.chainercv_repo, tmp)
        junit = os.path.join(tmp, 'junit.xml')
        env = dict(os.environ, PYTHONPATH=root, MPLBACKEND='Agg')
        subprocess.run(
            [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
             '-m', 'not gpu and not slow and not mpi', '--junitxml', junit,
             '--continue-on-collection-errors',
             'tests'], cwd=tmp, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        per_file, failures = parse_junit(junit)
    total = dict.fromkeys(('passed', 'failed', 'errors', 'skipped'), 0)
    row = '{:<56} {:>7} {:>7} {:>7} {:>7}'
    print(row.format('chainercv test module', 'passed', 'failed', 'errors',
                     'skipped'))
    for module in sorted(per_file):
        counts = per_file[module]
        for key in total:
            total[key] += counts[key]
        print(row.format(module.split('.')[-1], counts['passed'],
                         counts['failed'], counts['errors'],
                         counts['skipped']))
    print(row.format('total', total['passed'], total['failed'],
                     total['errors'], total['skipped']))
    for name, message in failures:
        print('FAILED {}: {}'.format(name, message[:160]))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump({'per_file': per_file, 'total': total,
                       'failures': failures}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
