"""``chainercv.utils.apply_to_iterator``: a batched function applied to the
batches of an iterator, with its inputs, outputs and the examples' other
values handed back as lazy iterators of single values."""

import warnings

from fasterrcnn.chainercv.utils.iterator.unzip import Fanout, prepend


def apply_to_iterator(func, iterator, n_input=1, hook=None, comm=None):
    """Apply ``func`` to each batch of ``iterator``, as chainercv does.

    Each batch is a list of examples, as a :class:`chainer.Iterator` gives
    them. An example that is a tuple gives its first ``n_input`` values to
    ``func`` (the *in* values) and keeps the others (the *rest* values);
    any other example (an image, say) is one in value with no rest values.
    ``func`` is called with one list per in value, ``func([in_0, ...],
    [in_1, ...], ...)``, and returns a list of one out value per example,
    or a tuple of such lists (``model.predict(imgs)`` returns ``(bboxes,
    labels, scores)``).

    The values come back one example at a time, lazily: the first batch is
    computed here (its results say how many iterators to return), each
    later one when an iterator is advanced past the values computed so
    far. An iterator keeps the values it has not given yet, so one not
    needed should be deleted (chainercv's evaluators do ``del in_values``),
    which also stops keeping its values. With a repeating iterator the
    values never end.

    Args:
        func (callable): takes ``n_input`` lists (or fewer, when the
            examples are not tuples) and returns a list, or a tuple of
            lists, of one value per example.
        iterator (iterator): gives batches (lists of examples) through
            ``next``. With ``comm``, only rank 0's is read (the others may
            pass None).
        n_input (int): how many of an example's values ``func`` takes.
        hook (callable or None): called after each batch as ``hook(
            in_values, out_values, rest_values)``, each a tuple with one
            list (or ``func``'s own sequence, for the out values) per value,
            holding that batch's values only (e.g. :class:`ProgressHook`).
            With ``comm``, called on rank 0 only.
        comm (chainermn.CommunicatorBase or None): a ChainerMN
            communicator. Every process calls this function with the same
            ``func``; rank 0 reads the batches, cuts each into one
            contiguous share per process (the first ``len(batch) %
            comm.size`` shares one example longer), scatters the in values,
            applies ``func`` to its own share and gathers the others' out
            values back in order. The other ranks return only when rank 0
            has read its iterator to the end.

    Returns:
        tuple or None: ``(in_values, out_values, rest_values)``, each a tuple
        of iterators: one per in value of the examples (``n_input``, or 1
        for examples that are not tuples), one per list ``func`` returns,
        and one per rest value (none when the examples have only in
        values). Each iterator gives one value per example in the
        iterator's order. None on ranks other than 0 with ``comm``.

    Raises:
        ValueError: ``iterator`` gives no batch at all (the number of
            iterators to return is unknown; chainercv let the StopIteration
            escape).
    """
    if comm is not None and comm.rank != 0:
        _serve(func, comm)
        return None
    batches = _batches(func, iterator, n_input, hook, comm)
    try:
        first = next(batches)
    except StopIteration:
        raise ValueError('apply_to_iterator: the iterator gave no batch, so '
                         'the number of values is unknown') from None
    n_in, n_out, n_rest = (len(values) for values in first)
    rows = (in_values + out_values + rest_values
            for in_values, out_values, rest_values
            in prepend(first, batches))
    iterators = Fanout(rows, n_in + n_out + n_rest, columns=True).iterators()
    return (iterators[:n_in], iterators[n_in:n_in + n_out],
            iterators[n_in + n_out:])


def _columns(rows):
    """Rows of values as a tuple of columns (lists); ``()`` for rows
    without values."""
    return tuple(list(column) for column in zip(*rows))


def _call(func, inputs):
    """``func`` on the in values of some examples, its result always a
    tuple of outputs (None for no examples)."""
    if not inputs:
        return None
    outputs = func(*_columns(inputs))
    if not isinstance(outputs, tuple):
        outputs = (outputs,)
    return outputs


def _split(items, n_parts):
    """``items`` in ``n_parts`` contiguous lists, the longer ones first."""
    q, r = divmod(len(items), n_parts)
    parts, start = [], 0
    for k in range(n_parts):
        stop = start + q + (1 if k < r else 0)
        parts.append(items[start:stop])
        start = stop
    return parts


def _shared_call(func, inputs, comm):
    """``func`` on the in values, the examples shared among the processes
    of ``comm`` (rank 0's side); the out values in the examples' order."""
    mine = comm.mpi_comm.scatter(_split(inputs, comm.size))
    gathered = comm.gather_obj(_call(func, mine))
    outputs = None
    for share in gathered:
        if share is None:  # a process without examples in this batch
            continue
        if outputs is None:
            outputs = tuple(list(values) for values in share)
        else:
            for values, more in zip(outputs, share):
                values.extend(more)
    return outputs


def _serve(func, comm):
    """The side of ranks other than 0: apply ``func`` to each share that
    rank 0 scatters until it scatters None (its iterator is exhausted)."""
    while True:
        mine = comm.mpi_comm.scatter(None)
        if mine is None:
            return
        comm.gather_obj(_call(func, mine))


def _batches(func, iterator, n_input, hook, comm):
    """For each batch, ``(in_values, out_values, rest_values)``: tuples with
    one list (out values: ``func``'s sequence) per value; the hook called on
    each."""
    checked_size = False
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            break
        examples = [example if isinstance(example, tuple) else (example,)
                    for example in batch]
        if not examples:
            # Nothing to apply func to (a chainer iterator gives no empty
            # batch; another iterator might).
            continue
        inputs = [example[:n_input] for example in examples]
        if comm is None:
            out_values = _call(func, inputs)
        else:
            if not checked_size and len(examples) % comm.size:
                warnings.warn(
                    'apply_to_iterator: the batch size ({}) is not a '
                    'multiple of the number of processes ({}), so some '
                    'processes wait on each batch; give the iterator the '
                    'batch size of all processes together'.format(
                        len(examples), comm.size), RuntimeWarning)
            checked_size = True
            out_values = _shared_call(func, inputs, comm)
        in_values = _columns(inputs)
        rest_values = _columns(example[n_input:] for example in examples)
        if hook is not None:
            hook(in_values, out_values, rest_values)
        yield in_values, out_values, rest_values
    if comm is not None:
        # None for every process: the end.
        comm.mpi_comm.scatter([None] * comm.size)
