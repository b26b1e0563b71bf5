"""Prediction over a data set split among ChainerMN processes.

Rank 0 reads the examples; each batch's images are cut into one contiguous
share per process (the first ``len(batch) % size`` shares one image
longer), scattered, predicted where they land, and gathered back in rank
order, so rank 0 ends with the predictions in data set order, as if it had
done all the work. The ground truth never leaves rank 0. The messages are
the processes' own arrays (MPI pickles them in flight); nothing read from a
file goes through them.
"""

from fasterrcnn.evaluation.run import ground_truth, predict_images


def split_evenly(items, n_parts):
    """``items`` cut into ``n_parts`` contiguous lists, sizes differing by
    at most one, the longer ones first."""
    q, r = divmod(len(items), n_parts)
    parts, start = [], 0
    for k in range(n_parts):
        stop = start + q + (1 if k < r else 0)
        parts.append(list(items[start:stop]))
        start = stop
    return parts


def predict_distributed(model, batches, comm):
    """Predict every example of ``batches`` with all processes of ``comm``.

    Every process calls this together; only rank 0 passes the batches.

    Args:
        model: has ``predict(imgs)`` (see
            :func:`fasterrcnn.evaluation.run.evaluate`); the same weights on
            every process.
        batches (iterable or None): on rank 0, lists of examples ``(img,
            bbox, label[, difficult])`` (a Chainer iterator's batches);
            ignored elsewhere.
        comm: a ChainerMN communicator (``rank``, ``size``,
            ``mpi_comm.scatter`` and ``gather_obj`` are used).

    Returns:
        tuple or None: on rank 0, ``(preds, gts)`` as
        :func:`fasterrcnn.evaluation.run.predict_examples` returns them;
        None on the other ranks.
    """
    if comm.rank != 0:
        while True:
            imgs = comm.mpi_comm.scatter(None, root=0)
            if imgs is None:
                return None
            comm.gather_obj(predict_images(model, imgs))
    preds = ([], [], [])
    gts = ([], [], [])
    for batch in batches:
        # None: a bad example left out (fasterrcnn.data.bad_examples).
        batch = [example for example in batch if example is not None]
        if not batch:
            continue
        shares = split_evenly([example[0] for example in batch], comm.size)
        mine = comm.mpi_comm.scatter(shares, root=0)
        gathered = comm.gather_obj(predict_images(model, mine))
        for share in gathered:
            for out, value in zip(preds, share):
                out.extend(value)
        for example in batch:
            for out, value in zip(gts, ground_truth(example)):
                out.append(value)
    # None tells the other ranks that the data set is done.
    comm.mpi_comm.scatter([None] * comm.size, root=0)
    return preds, gts
