"""Every kind of bad example, found up front or when read, and the two
policies (fasterrcnn/data/bad_examples.py and the VOC reader's checks)."""

import io
import os

import numpy
import pytest
from PIL import Image

from fasterrcnn.data.bad_examples import (BadExampleError, BadExampleLog,
                                          DropBadExamples, SkipBadExamples,
                                          apply_policy, scan)
from fasterrcnn.data.voc import VOCBboxDataset
from tests.data.test_voc import annotation, obj, write_voc

LABELS = ('cat', 'dog')
GOOD = annotation(obj('cat', 3, 4, 20, 18))


def jpeg_bytes(size=(120, 160)):
    """A noise JPEG big enough that its first half holds the whole header."""
    buffer = io.BytesIO()
    Image.fromarray(numpy.random.RandomState(0).randint(
        0, 255, size + (3,)).astype(numpy.uint8)).save(buffer, 'JPEG')
    return buffer.getvalue()


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())


#: name -> (what to do to example 000002, text its message must contain).
#: Images are 24 x 32 (H x W); annotations are 1-based as in VOC.
CASES = {
    'image missing': (('rm', 'JPEGImages'), 'not found'),
    'image empty': (('image', b''), 'empty file'),
    'not an image': (('image', b'this is text, not a JPEG'),
                     'not a readable image'),
    'annotation missing': (('rm', 'Annotations'), 'not found'),
    'annotation malformed': (('xml', '<annotation><object></annotation>'),
                             'not well-formed XML'),
    'annotation truncated': (('xml', GOOD[:60]), 'not well-formed XML'),
    'object without a box': (('xml', annotation(
        '<object><name>cat</name></object>')), 'has no <bndbox>'),
    'unknown class': (('xml', annotation(obj('horse', 1, 1, 9, 9))),
                      'not among the 2 label names'),
    'non-numeric coordinate': (('xml', annotation(obj('dog', 'ten', 1, 9, 9))),
                               'not a number'),
    'inverted box': (('xml', annotation(obj('dog', 9, 1, 3, 9))),
                     'xmax < xmin'),
    'zero-area box': (('xml', annotation(obj('dog', 4, 1, 4, 9))),
                      'zero area'),
    'box outside the image': (('xml', annotation(obj('dog', 40, 2, 60, 9))),
                              'lies outside the 32x24 image'),
}


def make(tmp_path, case=None):
    """Three examples; the second made bad by ``case``."""
    root = write_voc(tmp_path, {'000001': GOOD, '000002': GOOD,
                                '000003': GOOD}, labels=LABELS)
    if case is not None:
        kind, value = case
        if kind == 'rm':
            ext = '.jpg' if value == 'JPEGImages' else '.xml'
            os.remove(os.path.join(root, value, '000002' + ext))
        elif kind == 'image':
            write(os.path.join(root, 'JPEGImages', '000002.jpg'), value)
        else:
            write(os.path.join(root, 'Annotations', '000002.xml'), value)
    return VOCBboxDataset(root)


@pytest.mark.parametrize('name', sorted(CASES))
def test_found_up_front_and_when_read(tmp_path, name):
    case, text = CASES[name]
    dataset = make(tmp_path, case)
    bad = scan(dataset)
    assert [(i, example_id) for i, example_id, _ in bad] == [(1, '000002')]
    message = bad[0][2]
    assert '000002' in message and text in message and '\n' not in message
    if 'object' in name or 'box' in name or 'class' in name or \
            'coordinate' in name:
        assert 'object 0' in message
    with pytest.raises(BadExampleError, match=text):
        dataset[1]
    dataset[0], dataset[2]  # the others read


def test_truncated_image_shows_only_when_decoded(tmp_path):
    dataset = make(tmp_path)
    path = os.path.join(dataset.data_dir, 'JPEGImages', '000002.jpg')
    data = jpeg_bytes()
    write(path, data[:len(data) // 2])
    assert scan(dataset) == []  # the header is fine
    with pytest.raises(BadExampleError) as info:
        dataset[1]
    assert path in str(info.value) and 'truncated' in str(info.value)


def test_unusual_examples_are_not_bad(tmp_path):
    root = write_voc(tmp_path, {
        'empty': annotation(),
        'float': annotation(obj('cat', 3.5, 4.25, 20.5, 18.75)),
        # crossing the right and bottom border: clipped to the image.
        'border': annotation(obj('dog', 20, 10, 40, 30)),
        'difficult': annotation(obj('cat', 3, 4, 20, 18, difficult=1)),
    }, labels=LABELS)
    dataset = VOCBboxDataset(root)
    assert scan(dataset) == []
    _, bbox, label = dataset[0]
    assert bbox.shape == (0, 4) and label.shape == (0,)
    numpy.testing.assert_allclose(dataset[1][1], [[3.25, 2.5, 17.75, 19.5]])
    numpy.testing.assert_array_equal(dataset[2][1], [[9, 19, 23, 31]])
    assert dataset[3][1].shape == (0, 4)   # difficult left out in training
    with_difficult = VOCBboxDataset(root, use_difficult=True,
                                    return_difficult=True)
    assert with_difficult[3][3].tolist() == [True]


def test_error_policy_names_the_first_and_counts_the_rest(tmp_path):
    dataset = make(tmp_path, ('xml', 'garbage'))
    os.remove(os.path.join(dataset.data_dir, 'JPEGImages', '000003.jpg'))
    with pytest.raises(BadExampleError) as info:
        apply_policy(dataset, 'error', BadExampleLog())
    message = str(info.value)
    assert '000002.xml' in message
    assert 'and 1 more bad example;' in message
    assert 'data.bad_examples=skip' in message
    assert apply_policy(make(tmp_path / 'ok'), 'error', BadExampleLog()) \
        is not None


def test_skip_policy_leaves_out_and_lists(tmp_path, capsys):
    dataset = make(tmp_path, ('xml', 'garbage'))
    os.remove(os.path.join(dataset.data_dir, 'JPEGImages', '000003.jpg'))
    log = BadExampleLog(str(tmp_path / 'out' / 'bad.txt'))
    (tmp_path / 'out').mkdir()
    kept = apply_policy(dataset, 'skip', log, prefix='trainval/')
    assert len(kept) == 1 and kept.ids == ['000001']
    assert kept[0][0].shape == (3, 24, 32)
    with open(log.path) as f:
        lines = f.read().splitlines()
    assert [line.split('\t')[0] for line in lines] == [
        'trainval/000002', 'trainval/000003']
    # warned once, for the first
    assert capsys.readouterr().err.count('warning: bad example') == 1
    assert log.summary() == 'skipped 2 bad examples (see {})'.format(
        log.path)


def test_met_when_read_replaced_in_training_dropped_in_evaluation(
        tmp_path):
    dataset = make(tmp_path)
    path = os.path.join(dataset.data_dir, 'JPEGImages', '000002.jpg')
    data = jpeg_bytes()
    write(path, data[:len(data) // 2])
    log = BadExampleLog()
    train = SkipBadExamples(dataset, log)
    # Example 1 is read as example 2: the same replacement every time.
    for _ in range(2):
        numpy.testing.assert_array_equal(train[1][0], dataset[2][0])
    assert [name for name, _ in log.entries] == ['000002']
    assert log.summary() == 'skipped 1 bad example: 000002'
    evaluation = DropBadExamples(dataset, BadExampleLog())
    assert evaluation[1] is None and evaluation[2] is not None


def test_every_example_bad(tmp_path):
    root = write_voc(tmp_path, {'a': 'x', 'b': 'y'}, labels=LABELS)
    dataset = VOCBboxDataset(root)
    guarded = SkipBadExamples(dataset, BadExampleLog())
    with pytest.raises(BadExampleError, match='every example'):
        guarded[0]
