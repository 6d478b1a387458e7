"""Names of the states the idempotency protocol adds around the work, named once.

Execution histories, the demo, the benchmark and the tests refer to states by these names.
"""

from __future__ import annotations

from typing import Final


class ProtocolState:
    """Names of the states of ``IdempotencyProtocol`` in the synthesized definition.

    Plain strings (not an enum): they are passed to jsii as construct ids.
    """

    #: Lambda task that evaluates an input-carried JMESPath key (JMESPath key mode only).
    COMPUTE_KEY: Final = "ComputeKey"
    #: The conditional write that takes the lock.
    ACQUIRE_LOCK: Final = "AcquireLock"
    #: The Parallel state whose only branch is the work.
    RUN_WORK: Final = "RunWork"
    #: Stores the work's result, while this execution still owns the lock.
    STORE_RESULT: Final = "StoreResult"
    #: Records the work's error, while this execution still owns the lock.
    RECORD_FAILURE: Final = "RecordFailure"
    #: Strongly consistent read of a record that another execution holds or held.
    READ_RECORD: Final = "ReadRecord"
    #: Choice: return the stored result, wait, give up or acquire again.
    CHECK_RECORD: Final = "CheckRecord"
    #: The poll interval between two reads.
    WAIT_FOR_LOCK: Final = "WaitForLock"
    #: Pass state that returns a duplicate's stored result.
    RETURN_STORED_RESULT: Final = "ReturnStoredResult"
    #: Fail state re-raising the work's own error after it was recorded.
    FAIL_WITH_WORK_ERROR: Final = "FailWithWorkError"
    #: Fail state ``Idempotency.LockLost``.
    LOCK_LOST: Final = "LockLost"
    #: Fail state ``Idempotency.LockWaitTimeout``.
    LOCK_WAIT_TIMEOUT: Final = "LockWaitTimeout"
    #: Fail state ``Idempotency.InvalidKey``.
    INVALID_KEY: Final = "InvalidKey"
    #: Fail state ``Idempotency.ResultTooLarge``: the key's first run succeeded, but its output
    #: was too large to be stored and replayed.
    RESULT_TOO_LARGE: Final = "ResultTooLarge"
    #: Fail state ``Idempotency.PayloadMismatch`` (payload validation only).
    PAYLOAD_MISMATCH: Final = "PayloadMismatch"
