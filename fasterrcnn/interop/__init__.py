"""Exchange with the PyTorch version: weights and side-by-side checks."""

from fasterrcnn.interop.state_dict import (export_state_dict, load_state_dict,
                                           pytorch_names)

__all__ = ['export_state_dict', 'load_state_dict', 'pytorch_names']
