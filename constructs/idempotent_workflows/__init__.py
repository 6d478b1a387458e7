"""idempotent-workflows: AWS CDK constructs for Step Functions workflows safe to run twice.

The names imported below are the public API, spelled once. The example stacks are in
``idempotent_workflows.examples``, the local engine for tests in
``idempotent_workflows.testing`` (the ``[testing]`` extra), and two helpers for tests and
docs in ``idempotent_workflows.snapshots`` and ``idempotent_workflows.diagrams``; everything
else (``idempotent_workflows.private``) is internal.

Type checkers read the block below as imports. At run time each name is imported from its
module on first use instead, from the same block read back from this file: the package's
pytest plugin is loaded by every pytest run in an environment that has the package, and
importing aws-cdk-lib (which starts its Node process) only to register a fixture would slow
down every run.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .api import IdempotentApi as IdempotentApi
    from .callback import wait_for_callback as wait_for_callback
    from .errors import IdempotencyError as IdempotencyError
    from .key import IdempotencyKey as IdempotencyKey
    from .lambda_handlers import handler_function as handler_function
    from .metrics import PROTOCOL_METRICS as PROTOCOL_METRICS
    from .metrics import ProtocolMetrics as ProtocolMetrics
    from .monitoring import WorkflowMonitoring as WorkflowMonitoring
    from .nag_findings import acknowledge_findings as acknowledge_findings
    from .notification import FailureNotification as FailureNotification
    from .prop_errors import errors_as as errors_as
    from .protocol import IdempotencyProtocol as IdempotencyProtocol
    from .queue import IdempotentQueue as IdempotentQueue
    from .queue import queue_with_dead_letters as queue_with_dead_letters
    from .replay import ReplayHeaders as ReplayHeaders
    from .replay import ReplayReport as ReplayReport
    from .retry import TRANSIENT_DYNAMODB_ERRORS as TRANSIENT_DYNAMODB_ERRORS
    from .retry import TRANSIENT_LAMBDA_ERRORS as TRANSIENT_LAMBDA_ERRORS
    from .retry import TRANSIENT_SNS_ERRORS as TRANSIENT_SNS_ERRORS
    from .retry import TRANSIENT_SQS_ERRORS as TRANSIENT_SQS_ERRORS
    from .retry import RetryPolicy as RetryPolicy
    from .router import TransactionRouter as TransactionRouter
    from .runtime.records import RecordStatus as RecordStatus
    from .states import ProtocolState as ProtocolState
    from .status_map import StatusMap as StatusMap
    from .table import IdempotencyTable as IdempotencyTable
    from .workflow import IdempotentWorkflow as IdempotentWorkflow
    from .workflow import execution_logs as execution_logs

__version__ = "0.2.0"


def _exports() -> dict[str, str]:
    """Each public name and its module, read from the ``TYPE_CHECKING`` block of this file."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    (block,) = (
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    return {
        alias.asname or alias.name: f".{node.module}"
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


#: Where each public name is defined.
_EXPORTS: Final = _exports()
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, imported or not, and the module's dunder attributes."""
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})
