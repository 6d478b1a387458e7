"""idempotent-workflows: AWS CDK constructs for Step Functions workflows safe to run twice.

The constructs are here; the example stacks are in ``idempotent_workflows.examples`` and the
local engine for tests in ``idempotent_workflows.testing`` (the ``[testing]`` extra).

The names below are imported on first use: the package's pytest plugin is loaded by every
pytest run in an environment that has the package, and importing aws-cdk-lib (which starts
its Node process) only to register a fixture would slow down every run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from . import record
    from .api import IdempotentApi
    from .api_templates import StatusMap
    from .callback import wait_for_callback
    from .key import IdempotencyKey
    from .notification import FailureNotification
    from .protocol import IdempotencyProtocol
    from .queue import IdempotentQueue, queue_with_dead_letters
    from .record import IdempotencyError, RecordStatus
    from .retry import RetryPolicy
    from .router import TransactionRouter
    from .security import acknowledge_findings
    from .snapshots import mask_asset_hashes
    from .states import ProtocolState
    from .table import IdempotencyTable
    from .workflow import IdempotentWorkflow

__version__ = "0.2.0"

#: Where each public name is defined (``None``: the name is a submodule).
_EXPORTS: Final[dict[str, str | None]] = {
    "FailureNotification": "notification",
    "IdempotencyError": "record",
    "IdempotencyKey": "key",
    "IdempotencyProtocol": "protocol",
    "IdempotencyTable": "table",
    "IdempotentApi": "api",
    "IdempotentQueue": "queue",
    "IdempotentWorkflow": "workflow",
    "ProtocolState": "states",
    "RecordStatus": "record",
    "RetryPolicy": "retry",
    "StatusMap": "api_templates",
    "TransactionRouter": "router",
    "acknowledge_findings": "security",
    "mask_asset_hashes": "snapshots",
    "queue_with_dead_letters": "queue",
    "record": None,
    "wait_for_callback": "callback",
}

__all__ = [
    "FailureNotification",
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
    "queue_with_dead_letters",
    "record",
    "wait_for_callback",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_EXPORTS[name] or name}", __name__)
    value = module if _EXPORTS[name] is None else getattr(module, name)
    globals()[name] = value
    return value
