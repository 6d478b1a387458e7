"""Every error name with which the library's constructs end an execution or answer a request."""

from __future__ import annotations

from enum import StrEnum


class IdempotencyError(StrEnum):
    """Every error name of the library: the protocol's, ``IdempotentApi``'s answers, the router's.

    A ``StrEnum``: each member compares equal to its name, for example
    ``IdempotencyError.LOCK_WAIT_TIMEOUT == "Idempotency.LockWaitTimeout"``.
    """

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
    #: ``IdempotentApi``: a request without the ``Idempotency-Key`` header (400).
    KEY_MISSING = "Idempotency.KeyMissing"
    #: ``IdempotentApi``: a request body that is not a JSON object (400).
    INVALID_BODY = "Idempotency.InvalidBody"
    #: ``IdempotentApi``: StartSyncExecution itself refused the request (502).
    START_FAILED = "Idempotency.StartFailed"
    #: ``TransactionRouter``: the input's ``TransactionType`` is absent or has no route.
    UNKNOWN_TRANSACTION_TYPE = "Transaction.UnknownType"
