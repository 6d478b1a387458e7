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
    #: The work succeeded but its result could not be stored (throttled, table gone, ...): the
    #: record says ``FAILED`` and the next execution runs the work again.
    RESULT_NOT_STORED = "Idempotency.ResultNotStored"
    #: The work succeeded but its output is too large for a duplicate to be answered with: it
    #: was not stored, the record says ``RESULT_TOO_LARGE``, and every execution with the key
    #: ends with this error (the work does not run again) until the record expires.
    RESULT_TOO_LARGE = "Idempotency.ResultTooLarge"
    #: No idempotency key could be computed from the input (a key field missing, null, empty
    #: or behind an array, input nested too deep), or, for ``IdempotentApi``, the
    #: ``Idempotency-Key`` header breaks the key rule (400).
    INVALID_KEY = "Idempotency.InvalidKey"
    #: A duplicate's validated fields differ from those of the execution that took the key.
    PAYLOAD_MISMATCH = "Idempotency.PayloadMismatch"
    #: ``IdempotentApi``: a request without the ``Idempotency-Key`` header (400).
    KEY_MISSING = "Idempotency.KeyMissing"
    #: ``IdempotentApi``: a request body that is not a JSON object, or holds numbers that JSON
    #: cannot carry (``NaN``, ``Infinity``, ``1e400``) (400).
    INVALID_BODY = "Idempotency.InvalidBody"
    #: ``IdempotentApi``: a request whose execution input would pass Step Functions' 256 KiB
    #: (413).
    BODY_TOO_LARGE = "Idempotency.BodyTooLarge"
    #: ``IdempotentApi``: StartSyncExecution itself refused the request (502).
    START_FAILED = "Idempotency.StartFailed"
    #: ``TransactionRouter``: the input's ``TransactionType`` is absent or has no route.
    UNKNOWN_TRANSACTION_TYPE = "Transaction.UnknownType"
