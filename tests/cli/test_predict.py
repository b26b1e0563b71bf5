"""fasterrcnn-predict (predict.py) end to end on a tiny model and a few tiny
images made with Pillow."""

import configparser
import errno
import json
import os
import subprocess
import sys

import numpy
import pytest
from PIL import Image

from fasterrcnn.backend import gpu_available
from fasterrcnn.cli import predict as predict_cli
from fasterrcnn.data.shapes import LABEL_NAMES
from fasterrcnn.visualize import drawn_size
from fasterrcnn.weights.model_io import load_model, save_model
from tests.support.dummy_model import tiny_model
from tests.support.hostile import (assert_payload_is_live, assert_refused,
                                   hostile_npz, npz_arrays)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PROG = 'fasterrcnn-predict'


def write_image(path, h, w, seed, mode='RGB'):
    """A noise image of ``h x w`` pixels with a bright block, saved in the
    format its name says."""
    rng = numpy.random.RandomState(seed)
    pixels = rng.randint(0, 256, (h, w, 3)).astype(numpy.uint8)
    pixels[h // 4:h // 2, w // 4:w // 2] = 250
    Image.fromarray(pixels).convert(mode).save(str(path))
    return str(path)


def reference_image(path):
    """``(3, H, W)`` float32 RGB, read independently of the command."""
    with Image.open(path) as f:
        img = numpy.asarray(f.convert('RGB'), dtype=numpy.float32)
    return img.transpose(2, 0, 1).copy()


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A tiny model with the shapes class names, and a folder of three
    images (PNG, JPEG, grey BMP) plus a file that is not an image."""
    root = tmp_path_factory.mktemp('predict')
    model = str(root / 'model.npz')
    save_model(tiny_model(), model, LABEL_NAMES)
    folder = root / 'images'
    folder.mkdir()
    write_image(folder / 'a.png', 48, 64, 0)
    write_image(folder / 'b.JPG', 40, 56, 1)
    write_image(folder / 'c.bmp', 56, 40, 2, mode='L')
    (folder / 'notes.txt').write_text('not an image, not taken')
    return {'root': root, 'model': model, 'folder': str(folder),
            'images': [str(folder / n) for n in ('a.png', 'b.JPG',
                                                 'c.bmp')]}


def run(argv, capsys):
    code = predict_cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def read_json(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def expected(model_path, imgs, preset, score_thresh=None):
    """``model.predict(imgs)`` of the model file, thresholds as the command
    sets them."""
    model, _ = load_model(model_path)
    model.use_preset(preset)
    if score_thresh is not None:
        model.score_thresh = score_thresh
    return model.predict(imgs)


def assert_same_detections(record, bbox, label, score):
    dets = record['detections']
    assert len(dets) == len(bbox)
    # The JSON's floats read back as the very float32 values predict gave.
    got_bbox = numpy.array([d['bbox'] for d in dets],
                           dtype=numpy.float32).reshape(-1, 4)
    numpy.testing.assert_array_equal(got_bbox, bbox)
    numpy.testing.assert_array_equal(
        numpy.array([d['label'] for d in dets], dtype=numpy.int32), label)
    numpy.testing.assert_array_equal(
        numpy.array([d['score'] for d in dets], dtype=numpy.float32), score)
    for d in dets:
        assert d['label_name'] == LABEL_NAMES[d['label']]


def test_folder_gives_json_and_png_equal_to_predict(files, capsys,
                                                    tmp_path):
    out = str(tmp_path / 'out')
    code, stdout, err = run(['--model', files['model'], '--out', out,
                             '--preset', 'evaluate', files['folder']],
                            capsys)
    assert code == 0, err
    # Every image file of the folder (any case of extension), no other
    # file, nothing temporary left.
    assert sorted(os.listdir(out)) == ['a.json', 'a.png', 'b.json', 'b.png',
                                       'c.json', 'c.png']
    # The progress line (stderr is not a terminal here), then the summary.
    assert 'predict: 3/3 images (100%) in ' in err
    n_detections = 0
    for path, name in zip(files['images'], 'abc'):
        img = reference_image(path)
        (bbox,), (label,), (score,) = expected(files['model'], [img],
                                               'evaluate')
        assert len(bbox) > 0  # an untrained model's scores pass 0.05
        record = read_json(os.path.join(out, name + '.json'))
        assert record['image'] == os.path.abspath(path)
        assert (record['height'], record['width']) == img.shape[1:]
        assert record['bbox_order'] == ['y_min', 'x_min', 'y_max', 'x_max']
        assert record['preset'] == 'evaluate'
        assert (record['nms_thresh'], record['score_thresh']) == (0.3, 0.05)
        assert_same_detections(record, bbox, label, score)
        n_detections += len(bbox)
        with Image.open(os.path.join(out, name + '.png')) as drawing:
            assert drawing.format == 'PNG'
            assert drawing.size == drawn_size(*img.shape[1:])
    assert stdout.splitlines() == [
        '3 images, {} detections (0 skipped), written to {}'.format(
            n_detections, out)]


def test_without_out_the_detections_are_printed(files, capsys, tmp_path,
                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run(['--model', files['model'], '--preset',
                             'evaluate', '--no-progress', files['folder']],
                            capsys)
    assert code == 0, err
    assert os.listdir(str(tmp_path)) == []  # nothing written
    imgs = [reference_image(p) for p in files['images']]
    bboxes, labels, scores = expected(files['model'], imgs, 'evaluate')
    lines = stdout.splitlines()
    for path, bbox, label, score in zip(files['images'], bboxes, labels,
                                        scores):
        assert lines.pop(0) == '{}: {} detection{}'.format(
            path, len(bbox), '' if len(bbox) == 1 else 's')
        for box, lab, sc in zip(bbox, label, score):
            assert lines.pop(0) == '  {} {:.3f} ({})'.format(
                LABEL_NAMES[lab], sc, ', '.join('{:.1f}'.format(v)
                                                for v in box))
    assert lines == ['3 images, {} detections (0 skipped)'.format(
        sum(map(len, bboxes)))]


def test_score_thresh_replaces_the_presets(files, capsys, tmp_path):
    out = str(tmp_path / 'out')
    image = files['images'][0]
    code, _, err = run(['--model', files['model'], '--out', out,
                        '--preset', 'evaluate', '--score-thresh', '0.26',
                        '--no-progress', image], capsys)
    assert code == 0, err
    assert err == ''
    record = read_json(os.path.join(out, 'a.json'))
    assert record['preset'] == 'evaluate'
    assert record['score_thresh'] == 0.26
    (bbox,), (label,), (score,) = expected(
        files['model'], [reference_image(image)], 'evaluate', 0.26)
    assert_same_detections(record, bbox, label, score)
    assert all(d['score'] > 0.26 for d in record['detections'])


def test_default_preset_is_visualize(files, capsys, tmp_path):
    out = str(tmp_path / 'out')
    code, stdout, err = run(['--model', files['model'], '--out', out,
                             '--no-progress', files['images'][1]], capsys)
    assert code == 0, err
    record = read_json(os.path.join(out, 'b.json'))
    assert record['preset'] == 'visualize'
    assert (record['nms_thresh'], record['score_thresh']) == (0.3, 0.7)
    (bbox,), (label,), (score,) = expected(
        files['model'], [reference_image(files['images'][1])], 'visualize')
    assert_same_detections(record, bbox, label, score)
    assert stdout.startswith('1 image, ')


def test_batches_are_predict_of_the_same_chunks(files, capsys, tmp_path):
    out = str(tmp_path / 'out')
    code, _, err = run(['--model', files['model'], '--out', out,
                        '--preset', 'evaluate', '--batch-size', '2',
                        '--no-progress', files['folder']], capsys)
    assert code == 0, err
    imgs = [reference_image(p) for p in files['images']]
    # Chunks of two in order: (a, b), then (c).
    results = [expected(files['model'], imgs[:2], 'evaluate'),
               expected(files['model'], imgs[2:], 'evaluate')]
    per_image = [(b, lab, s) for r in results for b, lab, s in zip(*r)]
    for name, (bbox, label, score) in zip('abc', per_image):
        assert_same_detections(read_json(os.path.join(out, name + '.json')),
                               bbox, label, score)


def assert_user_error(code, out, err, *fragments):
    assert code == 2
    assert 'Traceback' not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(PROG + ': error: ')
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert out == ''


def folder_with_bad_images(files, tmp_path):
    """A copy of the three images plus a truncated JPEG and a text file
    named like an image."""
    folder = tmp_path / 'mixed'
    folder.mkdir()
    for path in files['images']:
        with open(path, 'rb') as src:
            (folder / os.path.basename(path)).write_bytes(src.read())
    truncated = write_image(folder / 'd.jpg', 64, 64, 3)
    with open(truncated, 'rb') as f:
        data = f.read()
    with open(truncated, 'wb') as f:
        f.write(data[:len(data) - 300])  # the header stays readable
    junk = folder / 'e.png'
    junk.write_text('this is not a PNG')
    return str(folder), truncated, str(junk)


def test_bad_image_is_a_one_line_error(files, capsys, tmp_path):
    folder, truncated, _ = folder_with_bad_images(files, tmp_path)
    out = str(tmp_path / 'out')
    code, stdout, err = run(['--model', files['model'], '--out', out,
                             '--no-progress', folder], capsys)
    assert_user_error(code, stdout, err, truncated, '--skip-bad')
    # The images before it were written, each complete.
    assert sorted(os.listdir(out)) == ['a.json', 'a.png', 'b.json', 'b.png',
                                       'c.json', 'c.png']

    junk = str(tmp_path / 'x.jpg')
    with open(junk, 'w') as f:
        f.write('plain text')
    # Also with the progress line enabled: the error is the only line.
    assert_user_error(*run(['--model', files['model'], '--out', out, junk],
                           capsys), junk, 'not a readable image')


def test_skip_bad_leaves_them_out_and_counts_them(files, capsys, tmp_path):
    folder, truncated, junk = folder_with_bad_images(files, tmp_path)
    out = str(tmp_path / 'out')
    code, stdout, err = run(['--model', files['model'], '--out', out,
                             '--skip-bad', '--no-progress', folder], capsys)
    assert code == 0, err
    warnings = err.splitlines()
    assert len(warnings) == 2, err
    assert truncated in warnings[0] and junk in warnings[1]
    assert all(w.startswith('warning: bad image left out: ')
               for w in warnings)
    assert sorted(os.listdir(out)) == ['a.json', 'a.png', 'b.json', 'b.png',
                                       'c.json', 'c.png']
    assert stdout.startswith('3 images, ')
    assert stdout.rstrip().endswith('(2 skipped), written to ' + out)

    # Nothing good at all is still an error.
    code, stdout, err = run(['--model', files['model'], '--out', out,
                             '--skip-bad', '--no-progress', junk], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        PROG + ': error: every one of the 1 image is bad; nothing was '
        'written')


def test_same_names_do_not_collide(files, capsys, tmp_path):
    one, two = tmp_path / 'one', tmp_path / 'two'
    one.mkdir()
    two.mkdir()
    first = write_image(one / 'x.png', 32, 48, 10)
    second = write_image(two / 'x.png', 40, 40, 11)
    other_ext = write_image(one / 'X.jpg', 36, 44, 12)
    own = write_image(two / 'x_2.png', 44, 36, 13)
    out = str(tmp_path / 'out')
    code, _, err = run(['--model', files['model'], '--out', out,
                        '--no-progress', str(one), str(two)], capsys)
    assert code == 0, err
    # Order: one/X.jpg, one/x.png (sorted), two/x.png, two/x_2.png. An
    # image whose own name is free keeps it (x_2.png); the others take the
    # next free number.
    assert sorted(os.listdir(out)) == sorted(
        n + e for n in ('X', 'x_3', 'x_4', 'x_2') for e in ('.json', '.png'))
    sources = {name: read_json(os.path.join(out, name + '.json'))['image']
               for name in ('X', 'x_3', 'x_4', 'x_2')}
    assert sources == {'X': os.path.abspath(other_ext),
                       'x_3': os.path.abspath(first),
                       'x_4': os.path.abspath(second),
                       'x_2': os.path.abspath(own)}
    assert '{} is written as x_3.json and x_3.png'.format(first) in err
    assert '{} is written as x_4.json'.format(second) in err


def test_a_file_named_twice_is_predicted_once(files, capsys, tmp_path):
    out = str(tmp_path / 'out')
    code, stdout, err = run(['--model', files['model'], '--out', out,
                             '--no-progress', files['images'][0],
                             files['folder']], capsys)
    assert code == 0, err
    assert stdout.startswith('3 images, ')
    assert len(os.listdir(out)) == 6


def test_output_names_unit():
    assert predict_cli.output_names(
        ['a/x.jpg', 'b/x.jpg', 'c/x_2.jpg', 'y.png', 'd/x.png']) == \
        ['x', 'x_3', 'x_2', 'y', 'x_4']


def test_missing_model(files, capsys, tmp_path):
    missing = str(tmp_path / 'nope.npz')
    assert_user_error(*run(['--model', missing, '--out', str(tmp_path),
                            files['folder']], capsys),
                      'model file not found', missing)


def test_not_a_model_file(files, capsys, tmp_path):
    junk = tmp_path / 'model.npz'
    junk.write_text('not a model')
    assert_user_error(*run(['--model', str(junk), '--out',
                            str(tmp_path / 'out'), files['folder']], capsys),
                      str(junk))


def test_a_model_file_that_would_run_code(files, capsys, tmp_path):
    marker = tmp_path / 'ran'
    evil = hostile_npz(tmp_path / 'model.npz', marker,
                       npz_arrays(files['model']), key='fasterrcnn_meta')
    assert_payload_is_live(evil, marker, key='fasterrcnn_meta')
    code, out, err = run(['--model', evil, '--out', str(tmp_path / 'out'),
                          files['folder']], capsys)
    assert code == 2
    assert_refused(err, evil, marker, key='fasterrcnn_meta')


def test_missing_paths_and_empty_folders(files, capsys, tmp_path):
    missing = str(tmp_path / 'nothing.jpg')
    assert_user_error(*run(['--model', files['model'], '--out',
                            str(tmp_path / 'out'), missing], capsys),
                      missing, 'no such file or folder')
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'readme.txt').write_text('no images here')
    assert_user_error(*run(['--model', files['model'], '--out',
                            str(tmp_path / 'out'), str(empty)], capsys),
                      str(empty), 'no image files')
    assert not os.path.exists(str(tmp_path / 'out'))


def test_outputs_never_replace_an_input(files, capsys, tmp_path):
    folder = tmp_path / 'in'
    folder.mkdir()
    image = write_image(folder / 'p.png', 32, 32, 5)
    assert_user_error(*run(['--model', files['model'], '--out', str(folder),
                            str(folder)], capsys),
                      image, 'choose another output folder')
    not_a_folder = tmp_path / 'file'
    not_a_folder.write_text('')
    assert_user_error(*run(['--model', files['model'], '--out',
                            str(not_a_folder), image], capsys),
                      'not a folder')


def test_usage_errors_exit_2(files, capsys, tmp_path):
    base = ['--model', files['model'], '--out', str(tmp_path / 'out')]
    for extra in (['--score-thresh', '1.5'], ['--score-thresh', 'nan'],
                  ['--preset', 'fast'], ['--batch-size', '0']):
        code, _, err = run(base + extra + [files['folder']], capsys)
        assert code == 2, extra
        assert 'usage:' in err
    code, _, err = run(base, capsys)  # no image
    assert code == 2 and 'IMAGE_OR_FOLDER' in err


@pytest.mark.skipif(gpu_available(), reason='a GPU is present')
def test_gpu_without_a_device(files, capsys, tmp_path):
    assert_user_error(*run(['--model', files['model'], '--out',
                            str(tmp_path / 'out'), '--gpu', '0',
                            files['folder']], capsys),
                      '--gpu 0', 'no usable CUDA device')


@pytest.mark.gpu
def test_on_the_gpu(files, capsys, tmp_path):
    out = str(tmp_path / 'out')
    code, _, err = run(['--model', files['model'], '--out', out,
                        '--preset', 'evaluate', '--gpu', '0',
                        '--no-progress', files['folder']], capsys)
    assert code == 0, err
    # An untrained model's scores are nearly tied, so boxes may differ a
    # little between devices; the outputs and their form are checked.
    assert len(os.listdir(out)) == 6
    for name in 'abc':
        record = read_json(os.path.join(out, name + '.json'))
        assert all(0.05 < d['score'] <= 1 for d in record['detections'])


def test_setup_cfg_declares_the_command():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, 'setup.cfg'))
    scripts = parser['options.entry_points']['console_scripts']
    assert 'fasterrcnn-predict = fasterrcnn.cli.predict:main' in \
        scripts.splitlines()


#: Run in a fresh interpreter: predict with the command, then list the
#: project's modules it loaded.
_LOADED = """
import json, sys
from fasterrcnn.cli import predict
code = predict.main(sys.argv[1:])
print(json.dumps([code, sorted(m for m in sys.modules
                               if m.startswith('fasterrcnn'))]))
"""


def test_reads_predicts_and_writes_without_evaluation_or_voc(files,
                                                             tmp_path):
    # Reading an image, predicting and writing the JSON go through the
    # image reader, the model and atomic: neither the evaluation package
    # nor the VOC data set reader is loaded along the way.
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run(
        [sys.executable, '-c', _LOADED, '--model', files['model'], '--out',
         str(tmp_path / 'out'), '--no-progress', files['images'][0]],
        capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    code, loaded = json.loads(done.stdout.splitlines()[-1])
    assert code == 0
    assert 'fasterrcnn.cli.predict' in loaded
    assert 'fasterrcnn.data.image' in loaded     # what the check relies on
    assert [m for m in loaded if m == 'fasterrcnn.evaluation' or
            m.startswith('fasterrcnn.evaluation.') or
            m == 'fasterrcnn.data.voc'] == []
    assert sorted(os.listdir(str(tmp_path / 'out'))) == ['a.json', 'a.png']


INSTALLED = os.path.join(os.path.dirname(sys.executable), PROG)


@pytest.mark.parametrize('command', [
    [sys.executable, os.path.join(ROOT, 'predict.py')],
    pytest.param([INSTALLED], marks=pytest.mark.skipif(
        not os.path.exists(INSTALLED),
        reason='fasterrcnn-predict is not installed in this environment '
               '(pip install -e . again)'))])
def test_the_script_and_the_installed_command(files, command, tmp_path):
    # predict.py is a thin wrapper of the installed command.
    out = str(tmp_path / 'out')
    done = subprocess.run(command + ['--model', files['model'], '--out', out,
                                     '--no-progress', files['folder']],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('3 images, ')
    assert len(os.listdir(out)) == 6


def test_a_full_disk_is_one_line_with_status_3(files, capsys, tmp_path,
                                               monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
    monkeypatch.setattr(predict_cli, 'write_json', full)
    out = str(tmp_path / 'out')
    code, stdout, err = run(['--model', files['model'], '--out', out,
                             files['folder']], capsys)
    assert code == 3 and stdout == ''
    lines = err.splitlines()
    assert len(lines) == 1, err  # no progress line after the error
    assert lines[0].startswith(PROG + ': error: ' + os.path.join(out, 'a'))
    assert 'No space left on device' in lines[0]
    assert '(0 of 3 images written to {})'.format(out) in lines[0]


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() == 0,
                    reason='root may write to any folder')
def test_an_unwritable_output_folder(files, capsys, tmp_path):
    out = tmp_path / 'locked'
    out.mkdir()
    out.chmod(0o555)
    try:
        assert_user_error(*run(['--model', files['model'], '--out',
                                str(out), files['folder']], capsys),
                          str(out), 'not writable')
    finally:
        out.chmod(0o755)
