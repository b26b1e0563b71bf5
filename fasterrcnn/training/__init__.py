"""Pieces of the chainer.training.Trainer: atomic snapshots, a reproducible
iterator, the learning rate schedule."""

from fasterrcnn.training.extensions import LearningRateShift  # noqa: F401
from fasterrcnn.training.extensions import shifted_value  # noqa: F401
from fasterrcnn.training.iterator import SeededSerialIterator  # noqa: F401
from fasterrcnn.training.snapshot import AtomicSnapshot  # noqa: F401
from fasterrcnn.training.snapshot import RandomStateHolder  # noqa: F401
from fasterrcnn.training.snapshot import SnapshotNotFoundError  # noqa: F401
from fasterrcnn.training.snapshot import find_snapshot  # noqa: F401
from fasterrcnn.training.snapshot import list_snapshots  # noqa: F401
from fasterrcnn.training.snapshot import write_snapshot  # noqa: F401
