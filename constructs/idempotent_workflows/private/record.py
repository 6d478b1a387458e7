"""The idempotency record in DynamoDB: the protocol's DynamoDB expressions.

Everything the state machine writes to or reads from the table is named here once, so the
conditions read as the protocol in docs/protocol.md. The attribute names and the statuses
(the public ``RecordStatus``) are the runtime's (``runtime/records.py``), which the operator's
view of a key shares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

# The attributes are the runtime's (re-exported: the expressions below and protocol.py use them).
from ..runtime.records import ATTEMPTS_ATTRIBUTE as ATTEMPTS_ATTRIBUTE
from ..runtime.records import EXECUTION_ATTRIBUTE as EXECUTION_ATTRIBUTE
from ..runtime.records import KEY_ATTRIBUTE as KEY_ATTRIBUTE
from ..runtime.records import LEASE_ATTRIBUTE as LEASE_ATTRIBUTE
from ..runtime.records import PAYLOAD_ATTRIBUTE as PAYLOAD_ATTRIBUTE
from ..runtime.records import RESULT_ATTRIBUTE as RESULT_ATTRIBUTE
from ..runtime.records import STATUS_ATTRIBUTE as STATUS_ATTRIBUTE
from ..runtime.records import TTL_ATTRIBUTE as TTL_ATTRIBUTE

#: Field of the protocol's output that carries the result's JSON text exactly as the record
#: stores it, when the protocol answers with the text (``ProtocolProps.OUTPUT_JSON_TEXT``).
RESULT_JSON_FIELD: Final = "resultJson"

# Placeholders used in every expression; DynamoDB rejects unused ones, so each call takes
# only the placeholders its own expressions mention (see `placeholders`).
ATTRIBUTE_NAMES: Final[dict[str, str]] = {
    "#id": KEY_ATTRIBUTE,
    "#status": STATUS_ATTRIBUTE,
    "#result": RESULT_ATTRIBUTE,
    "#execution": EXECUTION_ATTRIBUTE,
    "#lease": LEASE_ATTRIBUTE,
    "#ttl": TTL_ATTRIBUTE,
    "#payload": PAYLOAD_ATTRIBUTE,
    "#attempts": ATTEMPTS_ATTRIBUTE,
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
# Each acquire also counts itself (``attempts``): what an operator reads of a stuck key.
_ACQUIRE_REST: Final = "REMOVE #result ADD #attempts :one"
ACQUIRE_UPDATE: Final = f"SET {_ACQUIRE_SET} {_ACQUIRE_REST}"
#: The acquire write of a workflow that validates payloads: it also stores the fingerprint.
ACQUIRE_UPDATE_WITH_PAYLOAD: Final = f"SET {_ACQUIRE_SET}, #payload = :payload {_ACQUIRE_REST}"
SUCCEED_UPDATE: Final = "SET #status = :succeeded, #result = :result, #ttl = :ttl REMOVE #lease"
#: The failure write: ``:failure_status`` is ``FAILED`` (the next execution runs the work again)
#: or ``RESULT_TOO_LARGE`` (terminal until the record expires).
FAIL_UPDATE: Final = "SET #status = :failure_status, #result = :result, #ttl = :ttl REMOVE #lease"

#: Step Functions' limit on a state's input and output, a task's parameters and its result, in
#: UTF-8 bytes of their JSON.
PAYLOAD_LIMIT_BYTES: Final = 256 * 1024
#: Room kept for everything but the stored result in GetItem's answer (the other attributes,
#: the key, the execution ARN, the SDK metadata AWS adds to a task result) and in
#: ``StoreResult``'s parameters (table name, expressions, key).
RECORD_RESERVE_BYTES: Final = 4 * 1024
#: The largest stored result a duplicate can be answered with, as ``stored_size`` counts it: the
#: UTF-8 bytes of its JSON text plus one byte per ``"`` and ``\`` in that text (the JSON that
#: carries the record escapes the text once more).
REPLAYABLE_BYTES: Final = PAYLOAD_LIMIT_BYTES - RECORD_RESERVE_BYTES
#: Room kept between an API request's execution input and the payload limit: Step Functions
#: counts a task's input after its Arguments, which wrap the input (a Lambda task adds its
#: function name and ``Payload``; about 100 bytes in the example), so an input at the very limit
#: would fail in the work with ``States.DataLimitExceeded`` instead of a 413.
WORK_ARGUMENTS_RESERVE_BYTES: Final = 4 * 1024
#: The largest execution input an ``IdempotentApi`` request may become, in UTF-8 bytes.
REQUEST_INPUT_BYTES: Final = PAYLOAD_LIMIT_BYTES - WORK_ARGUMENTS_RESERVE_BYTES
#: DynamoDB's limit on a partition key, in UTF-8 bytes; the key is ``<namespace>#<64 hex>``.
PARTITION_KEY_LIMIT_BYTES: Final = 2048

_PLACEHOLDER = re.compile(r"[#:][A-Za-z_]+")


def placeholders(expressions: Iterable[str]) -> set[str]:
    """Return the ``#name`` and ``:value`` placeholders that the expressions mention."""
    return {match for expression in expressions for match in _PLACEHOLDER.findall(expression)}
