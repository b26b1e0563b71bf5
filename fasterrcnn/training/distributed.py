"""A training run over several processes (ChainerMN over MPI): the
communicator, and the check that every process runs the same thing.

``mpiexec -n P python train_chainer.py --config CFG --communicator NAME``
starts P processes; each builds the same trainer
(:func:`fasterrcnn.training.builder.build_trainer` with the communicator),
reads its share of every global batch, and the gradients are averaged.
Before anything is trained, :func:`check_same_run` compares what each
process would run (the resolved configuration, the code, the data set's
examples) and stops every process with one line if they differ.
"""

import hashlib
import os

#: ChainerMN communicators: ``naive`` runs anywhere (the CPU); ``pure_nccl``
#: and ``flat`` need one GPU per process.
COMMUNICATORS = ('naive', 'flat', 'pure_nccl', 'non_cuda_aware',
                 'single_node', 'hierarchical', 'two_dimensional')


class MismatchError(ValueError):
    """The processes of a run would not run the same thing."""


def create_communicator(name):
    """A ChainerMN communicator, or a one-line error saying what to
    install.

    Args:
        name (str): one of :data:`COMMUNICATORS`.
    """
    if name not in COMMUNICATORS:
        raise ValueError('--communicator {!r}: choose one of {}'.format(
            name, ', '.join(COMMUNICATORS)))
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise ValueError(
            '--communicator needs mpi4py and an MPI: pip install ".[mpi]" '
            '(or make venv-mpi), then run under mpiexec') from None
    import chainermn
    return chainermn.create_communicator(name)


def code_fingerprint():
    """A digest of the package's own source files."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256()
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode())
                with open(path, 'rb') as f:
                    digest.update(f.read())
    return digest.hexdigest()


def run_fingerprint(config_text, dataset_ids):
    """``{'config', 'code', 'data'}`` digests of what a process would run.

    Args:
        config_text (str): the resolved configuration (its YAML).
        dataset_ids (sequence of str): the training examples, in order.
    """
    return {
        'config': hashlib.sha256(config_text.encode()).hexdigest(),
        'code': code_fingerprint(),
        'data': hashlib.sha256('\n'.join(dataset_ids).encode()).hexdigest(),
    }


def check_same_run(comm, fingerprint):
    """Stop every process (a :class:`MismatchError` in each) unless they
    all have rank 0's ``fingerprint``.

    Args:
        comm: the communicator.
        fingerprint (dict): this process's :func:`run_fingerprint`.
    """
    everyone = comm.mpi_comm.allgather(fingerprint)
    differ = [(rank, key) for rank, theirs in enumerate(everyone)
              for key in sorted(theirs) if theirs[key] != everyone[0][key]]
    if differ:
        what = sorted({key for _, key in differ})
        ranks = sorted({rank for rank, _ in differ})
        raise MismatchError(
            'the processes do not run the same thing: rank{} {} differ{} '
            'from rank 0 in their {}; start every process with the same '
            'code, config and data'.format(
                's' if len(ranks) > 1 else '',
                ', '.join(str(r) for r in ranks),
                '' if len(ranks) > 1 else 's', ' and '.join(what)))


class MeanOverProcesses(object):
    """Trainer extension: the values every process reported this iteration
    under ``keys``, replaced by their mean over the processes (so that rank
    0's log shows the whole batch's losses). One allreduce an iteration.

    Args:
        comm: the communicator.
        keys (sequence of str): the observation keys (``'main/loss'``...).
    """

    trigger = 1, 'iteration'
    priority = 300  # before the log (PRIORITY_WRITER) reads them
    name = 'mean_over_processes'

    def __init__(self, comm, keys):
        self.comm = comm
        self.keys = tuple(keys)

    def __call__(self, trainer):
        import numpy
        from chainer import Variable

        from fasterrcnn.backend import to_cpu
        observation = trainer.observation
        present = [key for key in self.keys if key in observation]
        values = []
        for key in present:
            value = observation[key]
            if isinstance(value, Variable):
                value = value.array
            values.append(float(to_cpu(value)))
        total = self.comm.mpi_comm.allreduce(numpy.array(values))
        for key, value in zip(present, total / self.comm.size):
            observation[key] = value
