"""bench/paired.py: the switch alternates between iterations and is left
on; the table has both sides and their paired difference."""

import pytest

import fasterrcnn.functions.convolution as convolution
from fasterrcnn import cpu_threads, nms
from fasterrcnn.functions.convolution import numpy_impl
from fasterrcnn.functions.pooling import MaxPooling2D
from tests.bench.test_train_step import _load


def test_alternation_and_the_switch_left_on():
    paired = _load('paired')
    states = []
    calls = []
    off, on = paired.paired_times(lambda: calls.append(states[-1]),
                                  states.append, 3)
    assert calls == [False, True] * 3 and states[-1] is True
    assert len(off) == len(on) == 3
    lines = paired.summary([1., 2., 3.], [1.5, 2.5, 3.5])
    assert lines[-1].startswith('| on - off, paired | 500.00 ms | 500.00 ms')


@pytest.mark.parametrize('switch', ['side-by-side', 'part-here',
                                    'pool-arrays', 'tiles'])
def test_a_tiny_run_of_each_switch(capsys, switch):
    paired = _load('paired')
    bytes_before = convolution.SIDE_BY_SIDE_BYTES
    tile_before = numpy_impl.TILE_BYTES
    assert paired.main(['--switch', switch, '--size', '64', '96',
                        '--pairs', '2', '--warm-up', '1']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'switch {}: 2 pairs of training iterations, ' \
        '64 x 96'.format(switch)
    assert [line.split(' | ')[0] for line in out[3:6]] == \
        ['| off', '| on', '| on - off, paired']
    assert out[6].startswith('CPU: ') and 'OPENBLAS_CORETYPE' in out[6]
    # The code is as it was: the switch is on.
    assert convolution.SIDE_BY_SIDE_BYTES == bytes_before
    assert numpy_impl.TILE_BYTES == tile_before
    assert numpy_impl.run_parallel is cpu_threads.run_parallel
    assert nms.run_slices is cpu_threads.run_slices
    assert MaxPooling2D._backward_arrays is not MaxPooling2D._backward_graph
