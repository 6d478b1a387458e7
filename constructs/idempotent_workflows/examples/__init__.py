"""The example stacks that ``app.py`` deploys, and the demo that runs them offline.

Importable and subclassable from the installed package: ``IdempotentWorkflowStack`` (the
classic demo) and ``TransactionStack`` (the transaction router), each deployable as Standard
or Express, and ``PaymentsApiStack`` (an HTTP API with the ``Idempotency-Key`` header). The
demo (``python -m idempotent_workflows.examples.demo``) needs the ``[testing]`` extra.
"""

from .stacks import (
    WORKFLOW_TYPES_CONTEXT,
    IdempotentWorkflowStack,
    PaymentsApiStack,
    TransactionStack,
    add_example_stacks,
    workflow_types,
)

__all__ = [
    "WORKFLOW_TYPES_CONTEXT",
    "IdempotentWorkflowStack",
    "PaymentsApiStack",
    "TransactionStack",
    "add_example_stacks",
    "workflow_types",
]
