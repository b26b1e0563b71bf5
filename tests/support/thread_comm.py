"""A stand-in for a ChainerMN communicator: ranks are threads of one process.

Implements the calls the package makes (``rank``, ``size``,
``mpi_comm.scatter``, ``mpi_comm.allgather``, ``gather_obj``) with MPI's
semantics, so that
distributed code paths run in a unit test without MPI. Objects are passed
by reference, not pickled.
"""

import threading


class _Group(object):
    def __init__(self, size):
        self.size = size
        self.barrier = threading.Barrier(size, timeout=60)
        self.slots = [None] * size
        self.root_value = None


class _MpiComm(object):
    def __init__(self, comm):
        self._comm = comm

    def scatter(self, sendobj, root=0):
        group, rank = self._comm._group, self._comm.rank
        if rank == root:
            if len(sendobj) != group.size:
                raise ValueError('scatter needs one object per rank')
            group.root_value = list(sendobj)
        group.barrier.wait()
        value = group.root_value[rank]
        group.barrier.wait()
        return value

    def allgather(self, sendobj):
        group, rank = self._comm._group, self._comm.rank
        group.slots[rank] = sendobj
        group.barrier.wait()
        value = list(group.slots)
        group.barrier.wait()
        return value


class ThreadComm(object):
    """The communicator of one rank; make a group with :func:`group`."""

    def __init__(self, group, rank):
        self._group = group
        self.rank = rank
        self.size = group.size
        self.mpi_comm = _MpiComm(self)

    def gather_obj(self, obj, root=0):
        group = self._group
        group.slots[self.rank] = obj
        group.barrier.wait()
        value = list(group.slots) if self.rank == root else None
        group.barrier.wait()
        return value


def group(size):
    """Communicators for ranks ``0 .. size - 1`` of one group."""
    shared = _Group(size)
    return [ThreadComm(shared, rank) for rank in range(size)]


def run_ranks(functions):
    """Run ``functions[rank]()`` in one thread per rank; their results.

    An exception in any rank is raised here (after every thread ends; a
    rank left waiting times out at the barrier rather than hanging).
    """
    results = [None] * len(functions)
    errors = []

    def run(rank):
        try:
            results[rank] = functions[rank]()
        except BaseException as e:  # reported to the caller below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(rank,))
               for rank in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
