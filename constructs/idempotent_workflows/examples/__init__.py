"""The example stacks that ``app.py`` deploys, and the demo that runs them offline.

Importable and subclassable from the installed package: ``IdempotentWorkflowStack`` (the
classic demo) and ``TransactionStack`` (the transaction router), each deployable as Standard
or Express, ``PaymentsApiStack`` (an HTTP API with the ``Idempotency-Key`` header) and
``OrderFlowStack`` (a durable order flow: retries, a charge made once, a Map, a callback). The
demo (``python -m idempotent_workflows.examples.demo``) needs the ``[testing]`` extra.
"""

from .order_flow import OrderFlowStack
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
    "OrderFlowStack",
    "PaymentsApiStack",
    "TransactionStack",
    "add_example_stacks",
    "workflow_types",
]
