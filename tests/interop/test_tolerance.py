"""The comparison's rules (fasterrcnn/interop/tolerance.py)."""

import numpy

from fasterrcnn.interop.tolerance import (TOLERANCES, StageRows,
                                          detection_agreement, max_abs)


def _dets(rows):
    rows = numpy.array(rows, numpy.float64).reshape(-1, 6)
    return (rows[:, :4].astype(numpy.float32), rows[:, 4].astype(numpy.int32),
            rows[:, 5].astype(numpy.float32))


def testdetection_agreement_counts_only_score_ties_as_excused():
    a = [0, 0, 10, 10, 1, 0.9]          # found on both sides
    b = [0, 20, 10, 30, 1, 0.4039011]   # tie partner of c (IoU 0.54)
    c = [0, 23, 10, 33, 1, 0.4039009]
    d = [0, 32, 10, 40, 1, 0.1]         # overlaps c only: c suppressed it
    ref, ours = _dets([a, b, d]), _dets([a, c])
    assert detection_agreement(ref, ours, nms_thresh=0.05) == (1.0, 3)
    # The same pair with scores 1e-3 apart is a real disagreement.
    c_far = c[:5] + [0.4029]
    recall, ties = detection_agreement(ref, _dets([a, c_far]), 0.05)
    assert (recall, ties) == (1 / 3., 0)
    # Not overlapping enough to have suppressed each other: no tie.
    recall, ties = detection_agreement(ref, ours, nms_thresh=0.6)
    assert ties == 0 and recall == 1 / 3.
    assert detection_agreement(_dets([]), _dets([]), 0.3) == (1.0, 0)
    assert detection_agreement(ref, _dets([]), 0.3) == (0.0, 0)


def test_every_row_text_is_made_from_the_number_that_decides_it():
    rows = StageRows('f.npz')
    ref = numpy.array([10., -20.])
    rows.relative('a', ref + 1e-3, ref)          # 1e-3 <= 1e-4 * 20
    rows.relative('b', ref + 1e-2, ref)
    rows.absolute('c', ref, ref + 1e-5, 'creator_loc', ' px')
    rows.scalar('d', 1.0002, 1.0, 'loss_relative')
    rows.same_labels('e', numpy.ones(1000), numpy.r_[numpy.ones(999), 0])
    rows.gradient('g', None, ref)
    assert [r.ok for r in rows.rows] == [True, False, True, False, True,
                                         False]
    assert rows.rows[0].tolerance == '<= {:g} x max abs(ref)'.format(
        TOLERANCES['relative'])
    assert rows.rows[2].tolerance == '<= 0.0001 px'
    assert rows.rows[4].tolerance == '>= 99.9% identical'
    assert max_abs(numpy.zeros(2), numpy.zeros(3)) == float('inf')


def test_a_tie_excuses_the_whole_chain_of_overlaps_it_set_off():
    # The tie (b, c) flips; each side then keeps what the other suppressed,
    # box after box along a chain of overlaps: d only on one side, e only
    # on the other. f differs but overlaps nothing unmatched: not excused.
    b = [0, 20, 10, 30, 1, 0.4039011]
    c = [0, 23, 10, 33, 1, 0.4039009]
    d = [0, 31, 10, 41, 1, 0.30]       # overlaps c
    e = [0, 38, 10, 48, 1, 0.20]       # overlaps d, not c
    f = [50, 50, 60, 60, 1, 0.10]
    ref, ours = _dets([b, e, f]), _dets([c, d])
    recall, ties = detection_agreement(ref, ours, nms_thresh=0.05)
    assert ties == 4                    # b, e and c, d
    assert recall == 2 / 3.             # f is a real disagreement


def test_float64_rules_are_at_most_1e8_relative():
    from fasterrcnn.interop.tolerance import TOLERANCES_FLOAT64, tolerances
    assert tolerances(numpy.float64) is TOLERANCES_FLOAT64
    assert tolerances(numpy.float32) is TOLERANCES
    assert set(TOLERANCES_FLOAT64) == set(TOLERANCES)
    for name in ('relative', 'loss_relative', 'grad_relative',
                 'grad_norm_relative', 'creator_loc', 'detection_score',
                 'train_loss_relative', 'train_param_relative'):
        assert TOLERANCES_FLOAT64[name] <= 1e-8, name
    for name in ('box_recall', 'same_labels', 'detection_recall'):
        assert TOLERANCES_FLOAT64[name] == 1., name
    assert TOLERANCES_FLOAT64['detection_iou'] >= 1 - 1e-8


def test_rows_name_their_rule_and_measure():
    rows = StageRows('f.npz', numpy.float64)
    ref = numpy.array([1., -4.])
    rows.relative('t', ref + [0., 2e-8], ref)     # 5e-9 of max |ref|
    rows.relative('u', ref + [0., 8e-8], ref)     # 2e-8: fails in float64
    rows.scalar('s', 2. + 1e-9, 2., 'loss_relative')
    first, second, third = rows.rows
    assert (first.rule, second.rule, third.rule) == (
        'relative', 'relative', 'loss_relative')
    assert abs(first.measure - 5e-9) < 1e-15 and first.ok
    assert not second.ok
    assert abs(third.measure - 5e-10) < 1e-15
    # The same rows pass the float32 rules.
    rows32 = StageRows('f.npz')
    rows32.relative('u', ref + [0., 8e-8], ref)
    assert rows32.rows[0].ok


def test_an_iou_at_the_nms_threshold_is_a_tie():
    # h is kept on both sides; x overlaps it by an IoU of 0.3 to 1e-7,
    # so rounding decides whether NMS at 0.3 suppresses it: kept on our
    # side only, where it suppressed y, which the other side kept.
    a = 10 - 60 / 13.       # IoU([0, 0, 10, 10], [0, a, 10, a + 10]) = 0.3
    h = [0, 0, 10, 10, 2, 0.9]
    x = [0, a, 10, a + 10, 2, 0.5]
    y = [0, a + 3, 10, a + 13, 2, 0.4]
    ref, ours = _dets([h, y]), _dets([h, x])
    assert detection_agreement(ref, ours, nms_thresh=0.3) == (1.0, 2)
    # The same boxes with x clearly inside the threshold: a real miss.
    x_far = [0, 5., 10, 15., 2, 0.5]        # IoU 1/3
    recall, ties = detection_agreement(ref, _dets([h, x_far]), 0.3)
    assert ties == 0 and recall == 0.5
    # Nor is it a tie for the float64 rules (an IoU tie of 1e-12).
    from fasterrcnn.interop.tolerance import TOLERANCES_FLOAT64
    recall, ties = detection_agreement(ref, ours, 0.3, TOLERANCES_FLOAT64)
    assert ties == 0 and recall == 0.5


def test_a_loss_rule_per_training_step():
    rows = StageRows('f.npz')
    for step, diff in ((1, 5e-5), (2, 5e-4), (4, 4e-2), (9, 4e-2)):
        rows.scalar('step', 1. + diff, 1., 'train_loss_relative', step)
    assert [row.ok for row in rows.rows] == [True, True, True, True]
    rows.scalar('step', 1. + 5e-4, 1., 'train_loss_relative', 1)
    assert not rows.rows[-1].ok
    assert rows.rows[-1].tolerance == '<= 0.0001 relative'
