"""Prediction over a data set split among ChainerMN processes.

Rank 0 reads the examples; each chunk of ``batch_size`` images is cut into
one contiguous share per process (the first ``len(chunk) % size`` shares
one image longer), scattered, predicted where they land, and gathered back
in rank order, so rank 0 ends with the predictions in data set order, as
if it had done all the work (the bookkeeping is that of
:func:`fasterrcnn.evaluation.evaluate.predict_examples`). The ground truth
never leaves rank 0. The messages are the processes' own arrays (MPI
pickles them in flight); nothing read from a file goes through them.
"""

from fasterrcnn.evaluation.evaluate import predict_examples


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


def predict_each(model, imgs):
    """``model.predict`` of each image alone.

    A process predicts its share one image at a time, so that an image's
    detections do not depend on which images share its padded batch, that
    is on the number of processes.

    Args:
        model: has ``predict(imgs)`` (see
            :func:`fasterrcnn.evaluation.evaluate.evaluate`).
        imgs (list of numpy.ndarray): ``(3, H, W)`` float32 RGB images in
            ``[0, 255]``.

    Returns:
        tuple: ``(pred_bboxes, pred_labels, pred_scores)``, lists with one
        array per image.
    """
    preds = ([], [], [])
    for img in imgs:
        for out, value in zip(preds, model.predict([img])):
            out.extend(value)
    return preds


def predict_distributed(model, examples, comm, batch_size=1):
    """Predict every example with all processes of ``comm``.

    Every process calls this together; only rank 0 passes the examples.

    Args:
        model: has ``predict(imgs)`` (see
            :func:`fasterrcnn.evaluation.evaluate.evaluate`); the same
            weights on every process.
        examples (iterable or None): on rank 0, examples ``(img, bbox,
            label[, difficult])`` or None (a bad example left out, as in
            :func:`fasterrcnn.evaluation.evaluate.predict_examples`); ignored
            elsewhere.
        comm: a ChainerMN communicator (``rank``, ``size``,
            ``mpi_comm.scatter`` and ``gather_obj`` are used).
        batch_size (int): images split among the processes at a time.

    Returns:
        tuple or None: on rank 0, ``(preds, gts)`` as
        :func:`fasterrcnn.evaluation.evaluate.predict_examples` returns them;
        None on the other ranks.
    """
    if comm.rank != 0:
        while True:
            imgs = comm.mpi_comm.scatter(None, root=0)
            if imgs is None:
                return None
            comm.gather_obj(predict_each(model, imgs))

    def predict_shared(imgs):
        mine = comm.mpi_comm.scatter(split_evenly(imgs, comm.size), root=0)
        gathered = comm.gather_obj(predict_each(model, mine))
        return tuple([value for share in gathered for value in share[k]]
                     for k in range(3))

    result = predict_examples(model, examples, batch_size=batch_size,
                              predict=predict_shared)
    # None tells the other ranks that the data set is done.
    comm.mpi_comm.scatter([None] * comm.size, root=0)
    return result
