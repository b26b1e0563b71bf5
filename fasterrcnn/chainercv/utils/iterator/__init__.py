"""``chainercv.utils.iterator``: applying a function to the batches of an
iterator (:func:`apply_to_iterator`), a progress line for it
(:class:`ProgressHook`), and :func:`unzip`."""

from fasterrcnn.chainercv.utils.iterator.apply_to_iterator import \
    apply_to_iterator  # noqa: F401
from fasterrcnn.chainercv.utils.iterator.progress_hook import \
    ProgressHook  # noqa: F401
from fasterrcnn.chainercv.utils.iterator.unzip import unzip  # noqa: F401
