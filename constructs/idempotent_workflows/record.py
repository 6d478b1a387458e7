"""The idempotency record: attribute names, statuses, error names and DynamoDB expressions.

Everything the state machine writes to or reads from the table is named here once, so the
conditions read as the protocol in docs/protocol.md and tests can refer to the same names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


class RecordStatus(StrEnum):
    """Value of the ``executionstatus`` attribute of an idempotency record."""

    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class IdempotencyError(StrEnum):
    """Error names with which the idempotency machinery itself ends an execution."""

    #: Another execution still held the lock after the last poll.
    LOCK_WAIT_TIMEOUT = "Idempotency.LockWaitTimeout"
    #: The lease ran out while the work ran and another execution took the lock over.
    LOCK_LOST = "Idempotency.LockLost"
    #: The work succeeded but its result could not be stored (too large, throttled, ...).
    RESULT_NOT_STORED = "Idempotency.ResultNotStored"
    #: No idempotency key could be computed from the input.
    INVALID_KEY = "Idempotency.InvalidKey"
    #: A duplicate's validated fields differ from those of the execution that took the key.
    PAYLOAD_MISMATCH = "Idempotency.PayloadMismatch"


# Placeholders used in every expression; DynamoDB rejects unused ones, so each call takes
# only the placeholders its own expressions mention (see `expression_attributes`).
ATTRIBUTE_NAMES: Final[dict[str, str]] = {
    "#id": KEY_ATTRIBUTE,
    "#status": STATUS_ATTRIBUTE,
    "#result": RESULT_ATTRIBUTE,
    "#execution": EXECUTION_ATTRIBUTE,
    "#lease": LEASE_ATTRIBUTE,
    "#ttl": TTL_ATTRIBUTE,
    "#payload": PAYLOAD_ATTRIBUTE,
}

# The lock may be taken when any of these holds (one conditional write, no read first).
ITEM_ABSENT: Final = "attribute_not_exists(#id)"
PREVIOUS_RUN_FAILED: Final = "#status = :failed"
LEASE_EXPIRED: Final = "(#status = :in_progress AND #lease < :now)"
RECORD_EXPIRED: Final = "#ttl < :now"
HELD_BY_THIS_EXECUTION: Final = "(#status = :in_progress AND #execution = :execution)"
ACQUIRE_CONDITION: Final = " OR ".join(
    [ITEM_ABSENT, PREVIOUS_RUN_FAILED, LEASE_EXPIRED, RECORD_EXPIRED, HELD_BY_THIS_EXECUTION]
)

# Completion writes only land while this execution still owns the lock.
OWNS_LOCK: Final = "#status = :in_progress AND #execution = :execution"

_ACQUIRE_SET: Final = (
    "#status = :in_progress, #execution = :execution, #lease = :lease, #ttl = :ttl"
)
ACQUIRE_UPDATE: Final = f"SET {_ACQUIRE_SET} REMOVE #result"
#: The acquire write of a workflow that validates payloads: it also stores the fingerprint.
ACQUIRE_UPDATE_WITH_PAYLOAD: Final = f"SET {_ACQUIRE_SET}, #payload = :payload REMOVE #result"
SUCCEED_UPDATE: Final = "SET #status = :succeeded, #result = :result, #ttl = :ttl REMOVE #lease"
FAIL_UPDATE: Final = "SET #status = :failed, #result = :result, #ttl = :ttl REMOVE #lease"

_PLACEHOLDER = re.compile(r"[#:][A-Za-z_]+")


def placeholders(expressions: Iterable[str]) -> set[str]:
    """Return the ``#name`` and ``:value`` placeholders that the expressions mention."""
    return {match for expression in expressions for match in _PLACEHOLDER.findall(expression)}
