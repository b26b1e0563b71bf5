"""Exchange with the PyTorch version: weights and side-by-side checks."""

from fasterrcnn.interop.state_dict import (export_state_dict,  # NOQA
                                           load_state_dict,
                                           pytorch_names)
