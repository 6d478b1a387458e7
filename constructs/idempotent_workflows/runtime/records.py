"""The idempotency record as DynamoDB holds it: its attributes and statuses, named once.

The protocol's DynamoDB expressions (``private/record.py``) and the operator's view of a key
(``runtime/operator.py``) read and write the same item; docs/protocol.md describes it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

KEY_ATTRIBUTE: Final = "id"
STATUS_ATTRIBUTE: Final = "executionstatus"
RESULT_ATTRIBUTE: Final = "executionresult"
EXECUTION_ATTRIBUTE: Final = "execution"
LEASE_ATTRIBUTE: Final = "leaseexpiry"
TTL_ATTRIBUTE: Final = "ttl"
#: SHA-256 of the validated input fields (opt-in payload validation).
PAYLOAD_ATTRIBUTE: Final = "payloadhash"
#: How many times the lock was taken for the key (each acquire write adds one).
ATTEMPTS_ATTRIBUTE: Final = "attempts"


class RecordStatus(StrEnum):
    """Value of the ``executionstatus`` attribute of an idempotency record."""

    #: An execution holds the key and runs the work, until ``leaseexpiry``.
    IN_PROGRESS = "IN_PROGRESS"
    #: The work succeeded; ``executionresult`` holds its output, which duplicates return.
    SUCCEEDED = "SUCCEEDED"
    #: The work failed; ``executionresult`` holds the error. The next execution runs it again.
    FAILED = "FAILED"
    #: The work succeeded, but its output was too large to be replayed, so it was not stored:
    #: ``executionresult`` holds the ``Idempotency.ResultTooLarge`` error, which every execution
    #: with the key ends with, without running the work, until the record expires.
    RESULT_TOO_LARGE = "RESULT_TOO_LARGE"
