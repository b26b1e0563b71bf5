"""The three target / proposal creators of Faster R-CNN, the sampling they
share, and each training example's random state (``seeding.py``)."""

from fasterrcnn.creators.anchor_target import AnchorTargetCreator  # NOQA
from fasterrcnn.creators.proposal import ProposalCreator  # NOQA
from fasterrcnn.creators.proposal_target import ProposalTargetCreator  # NOQA
