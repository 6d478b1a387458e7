"""idempotent-workflows: AWS CDK constructs for Step Functions workflows safe to run twice.

The constructs are here; the example stacks are in ``idempotent_workflows.examples`` and the
local engine for tests in ``idempotent_workflows.testing`` (the ``[testing]`` extra).
"""

from . import record
from .api import IdempotentApi
from .api_templates import StatusMap
from .key import IdempotencyKey
from .protocol import IdempotencyProtocol
from .queue import IdempotentQueue
from .record import IdempotencyError, RecordStatus
from .retry import RetryPolicy
from .router import TransactionRouter
from .security import acknowledge_findings
from .snapshots import mask_asset_hashes
from .states import ProtocolState
from .table import IdempotencyTable
from .workflow import IdempotentWorkflow

__version__ = "0.2.0"

__all__ = [
    "IdempotencyError",
    "IdempotencyKey",
    "IdempotencyProtocol",
    "IdempotencyTable",
    "IdempotentApi",
    "IdempotentQueue",
    "IdempotentWorkflow",
    "ProtocolState",
    "RecordStatus",
    "RetryPolicy",
    "StatusMap",
    "TransactionRouter",
    "__version__",
    "acknowledge_findings",
    "mask_asset_hashes",
    "record",
]
