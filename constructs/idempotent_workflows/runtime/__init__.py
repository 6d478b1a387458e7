"""Idempotency keys and records outside the state machine, for code running in AWS.

A Lambda function, a service or an operator's shell computes here what a deployed idempotent
workflow computes in JSONata: the record id of an input (``<namespace>#<sha256>``) and the
fingerprint of its payload fields, equal to the state machine's own (proven against the
reference JSONata, npm jsonata 2.0.6). ``WorkflowDescription`` reads a workflow's key rule,
table and settings from its deployed definition, so nothing is configured twice.

``WorkflowClient`` starts a workflow so that a duplicate is answered from the first
execution without entering a state (Standard: by execution name), or through the workflow's
lock protocol (Express).

``IdempotencyRecords`` is the operator's view of a key: its record (status, holder, lease,
attempts, result size, expiry), and a stuck lock released by a conditional write; the
``idempotent-workflows`` console script (``runtime/cli.py``) runs it from a shell.

This package imports the standard library only, ``jmespath`` (a dependency of botocore) in
the JMESPath key mode, and boto3 for a client you did not pass: never aws-cdk-lib, so it
loads in a Lambda function.

Examples
--------
In a Lambda function that starts a deployed workflow (its role allowed
``states:DescribeStateMachine``)::

    sfn = boto3.client("stepfunctions")
    (payments,) = WorkflowDescription.describe(os.environ["STATE_MACHINE_ARN"], sfn)
    payments.record_id(json.loads(body))  # 'Payments/Payments/Protocol#3f2a...'
"""

from __future__ import annotations

from .client import PayloadMismatchError as PayloadMismatchError
from .client import WorkflowClient as WorkflowClient
from .client import WorkflowExecution as WorkflowExecution
from .client import WorkflowFailed as WorkflowFailed
from .client import WorkflowResult as WorkflowResult
from .description import WorkflowDescription as WorkflowDescription
from .hashing import InvalidKeyError as InvalidKeyError
from .hashing import canonical_json as canonical_json
from .hashing import fingerprint as fingerprint
from .hashing import record_id as record_id
from .key_rules import FieldSelection as FieldSelection
from .key_rules import InputJmespath as InputJmespath
from .key_rules import KeyRule as KeyRule
from .key_rules import WholeInput as WholeInput
from .operator import IdempotencyRecords as IdempotencyRecords
from .operator import KeyRecord as KeyRecord
from .operator import NotStuck as NotStuck
from .operator import RecordChanged as RecordChanged
from .records import RecordStatus as RecordStatus

__all__ = [
    "FieldSelection",
    "IdempotencyRecords",
    "InputJmespath",
    "InvalidKeyError",
    "KeyRecord",
    "KeyRule",
    "NotStuck",
    "PayloadMismatchError",
    "RecordChanged",
    "RecordStatus",
    "WholeInput",
    "WorkflowClient",
    "WorkflowDescription",
    "WorkflowExecution",
    "WorkflowFailed",
    "WorkflowResult",
    "canonical_json",
    "fingerprint",
    "record_id",
]
