"""The Trainer of a run: its construction (``builder.py``), the run folder,
atomic snapshots and the resume policy, the seeded and sharded iterator,
the learning rate shift, the best model, plots, live monitoring, the
schedule's warnings, the guard against faults and signals, and ChainerMN
runs."""

from fasterrcnn.training.extensions import LearningRateShift  # noqa: F401
from fasterrcnn.training.extensions import shifted_value  # noqa: F401
from fasterrcnn.training.iterator import SeededSerialIterator  # noqa: F401
from fasterrcnn.training.snapshot import AtomicSnapshot  # noqa: F401
from fasterrcnn.training.snapshot import RandomStateHolder  # noqa: F401
from fasterrcnn.training.snapshot import SnapshotNotFoundError  # noqa: F401
from fasterrcnn.training.snapshot import list_snapshots  # noqa: F401
from fasterrcnn.training.snapshot import write_snapshot  # noqa: F401
