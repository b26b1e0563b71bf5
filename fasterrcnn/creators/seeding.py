"""Random states of single examples, derived from the run's seed and the
example's place in the global order.

Every random decision about a training example (its flip, the sampling of
its anchor and proposal targets) draws from a state made from ``(seed,
stream, key)``, where ``key`` is the example's number in the run's global
sequence of examples (update ``t`` of global batch ``B`` holds keys ``t *
B`` to ``t * B + B - 1``). No state is carried from one example to the
next, so the draws are the same however the examples are split among
processes or batches, and a run resumed from any snapshot, with any number
of processes, draws what the run left alone would have.
"""

import numpy

#: Streams: what a state is for.
FLIP = 1
TARGETS = 2


def example_random_state(seed, stream, key):
    """The RandomState of one example's decisions of one kind.

    Args:
        seed (int): the run's seed (``train.seed`` plus an offset).
        stream (int): :data:`FLIP` or :data:`TARGETS`.
        key (int): the example's number in the global order.

    Returns:
        numpy.random.RandomState: seeded from ``numpy.random.SeedSequence((
        seed, stream, key))``, the same on every platform and numpy version.
    """
    words = numpy.random.SeedSequence(
        (int(seed), int(stream), int(key))).generate_state(8)
    return numpy.random.RandomState(words)
