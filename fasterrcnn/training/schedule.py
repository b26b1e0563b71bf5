"""Checks of a run's schedule against its length, ``train.iterations``.

An evaluation point, a learning rate shift or a snapshot interval past the
last iteration never fires, and nothing else says so: a copied
``eval.every: [1000, 2000, 3000]`` in a 500-iteration run gives no mAP, no
``map.png`` and no ``best.npz``. :func:`schedule_warnings` names each such
key at start-up.
"""


def _listed(values):
    return ', '.join(str(v) for v in values)


def schedule_warnings(config):
    """What of the configured schedule cannot happen.

    Args:
        config (fasterrcnn.config.Config): the resolved configuration
            (``train.iterations``, ``eval.every``, ``train.lr_shift_at``,
            ``train.snapshot_every``, ``train.log_every``).

    Returns:
        list of str: one line per problem, saying what will happen and
        which key to change; empty when the schedule fits.
    """
    t = config.train
    last = t.iterations
    warnings = []
    every = config.eval.every
    if config.data.test_split:
        if isinstance(every, int):
            if every > last:
                warnings.append(
                    'eval.every is {} but train.iterations is {}: no '
                    'evaluation will run (no mAP, map.png or best.npz); set '
                    'eval.every to at most {} (e.g. --set eval.every=[{}])'
                    .format(every, last, last, last))
        else:
            late = [i for i in every if i > last]
            if late and len(late) == len(every):
                warnings.append(
                    'eval.every lists {} but train.iterations is {}: no '
                    'evaluation will run (no mAP, map.png or best.npz); list '
                    'iterations up to {} (e.g. --set eval.every=[{}])'
                    .format(_listed(every), last, last, last))
            elif late:
                warnings.append(
                    'eval.every lists {} past train.iterations {}: those '
                    'evaluations will not run; list iterations up to {}'
                    .format(_listed(late), last, last))
    # A shift at the last iteration would only change the rate after the
    # last update; with lr_shift_reload_best it still reloads the best
    # weights into the final model, so then it counts.
    late = [s for s in t.lr_shift_at
            if s > last or (s == last and not t.lr_shift_reload_best)]
    if late:
        warnings.append(
            'train.lr_shift_at {} {} not before train.iterations {}: the '
            'learning rate will not be shifted there{}; list iterations '
            'below {}'.format(
                _listed(late), 'is' if len(late) == 1 else 'are', last,
                ' (it stays {:g} throughout)'.format(t.lr)
                if len(late) == len(t.lr_shift_at) else '', last))
    if t.snapshot_every > last:
        # AtomicSnapshot also writes one at the last iteration, and SIGINT /
        # SIGTERM write one of the iteration reached; nothing else does.
        warnings.append(
            'train.snapshot_every is {} but train.iterations is {}: the only '
            'snapshot will be the one of the last iteration, so a run that '
            'dies before then (other than by Ctrl-C or SIGTERM, which write '
            'one) starts again from iteration 0; set train.snapshot_every '
            'below {}'.format(t.snapshot_every, last, last))
    if t.log_every > last:
        warnings.append(
            'train.log_every is {} but train.iterations is {}: no log line '
            'and no log or loss.png will be written; set train.log_every to '
            'at most {}'.format(t.log_every, last, last))
    return warnings
