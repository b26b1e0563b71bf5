"""bench/chainercv_tests.py: copying a checkout's tests and reading pytest's
results (on hand-made files; no chainercv checkout needed)."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    'chainercv_tests', os.path.join(ROOT, 'bench', 'chainercv_tests.py'))
chainercv_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chainercv_tests)

BBOX = 'tests.utils_tests.bbox_tests.test_bbox_iou'
VOC = 'tests.evaluations_tests.test_eval_detection_voc'
READ = 'tests.utils_tests.image_tests.test_read_image'
#: (class name, outcome element or ''): parameterized class names carry
#: dots in their parameters.
CASES = [
    (BBOX + '.TestBboxIou_param_0_{a=[[0.0, 1.5]]}', ''),
    (BBOX + '.TestBboxIou_param_1_{a=[[2.0, 1.5]]}',
     '<failure message="AssertionError: 1 != 2&#10;more">trace</failure>'),
    (VOC + '.TestAP',
     '<error message="failed on setup with URLError">trace</error>'),
    (READ + '.TestReadImage', '<skipped message="cv2"/>'),
]
JUNIT = '<testsuites><testsuite name="pytest">{}</testsuite></testsuites>' \
    .format(''.join('<testcase classname="{}" name="test">{}</testcase>'
                    .format(name, outcome) for name, outcome in CASES))


def test_parse_junit_groups_parameterized_cases_by_module(tmp_path):
    path = tmp_path / 'junit.xml'
    path.write_text(JUNIT, encoding='utf-8')
    per_file, failures = chainercv_tests.parse_junit(str(path))
    assert per_file == {
        BBOX: {'passed': 1, 'failed': 1, 'errors': 0, 'skipped': 0},
        VOC: {'passed': 0, 'failed': 0, 'errors': 1, 'skipped': 0},
        READ: {'passed': 0, 'failed': 0, 'errors': 0, 'skipped': 1},
    }
    assert [message for _, message in failures] == [
        'AssertionError: 1 != 2', 'failed on setup with URLError']


def test_copy_tests_from_a_work_tree(tmp_path):
    repo = tmp_path / 'chainercv'
    for path in chainercv_tests.TEST_FILES:
        file = repo / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text('# ' + path + '\n', encoding='utf-8')
    out = tmp_path / 'out'
    out.mkdir()
    chainercv_tests.copy_tests(str(repo), str(out))
    first = chainercv_tests.TEST_FILES[0]
    assert (out / first).read_text(encoding='utf-8') == '# ' + first + '\n'
    assert (out / 'tests' / '__init__.py').exists()
    assert 'install_alias()' in (out / 'conftest.py').read_text()
