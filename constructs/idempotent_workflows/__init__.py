"""idempotent-workflows: AWS CDK constructs for Step Functions workflows safe to run twice."""

from . import protocol
from .example_stacks import IdempotentWorkflowStack, TransactionStack, add_example_stacks
from .fragment import IdempotencyProtocol
from .key import IdempotencyKey
from .protocol import IdempotencyError, RecordStatus
from .router import TransactionRouter
from .security import acknowledge_findings
from .table import IdempotencyTable
from .workflow import IdempotentWorkflow

__all__ = [
    "IdempotencyError",
    "IdempotencyKey",
    "IdempotencyProtocol",
    "IdempotencyTable",
    "IdempotentWorkflow",
    "IdempotentWorkflowStack",
    "RecordStatus",
    "TransactionRouter",
    "TransactionStack",
    "acknowledge_findings",
    "add_example_stacks",
    "protocol",
]
