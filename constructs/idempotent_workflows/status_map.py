"""``StatusMap``: which HTTP status ``IdempotentApi`` answers for each outcome of an execution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class StatusMap:
    """Which HTTP status answers which outcome of the synchronous execution.

    Attributes
    ----------
    success
        A result, fresh or stored.
    work_error
        The work failed with an error that ``errors`` does not name.
    errors
        Status of particular work error names, for example ``{"Payment.Declined": 402}``.
    retry_after_seconds
        The ``Retry-After`` of a 409 (the key is still held by another request).
    """

    success: int = 200
    work_error: int = 500
    errors: Mapping[str, int] = field(default_factory=dict)
    retry_after_seconds: int = 1

    #: Same key, other payload (draft-07: 422).
    PAYLOAD_MISMATCH: ClassVar[int] = 422
    #: The key's first request still runs after the poll bound (draft-07: 409).
    IN_PROGRESS: ClassVar[int] = 409
    #: The machinery failed, or StartSyncExecution refused the request.
    MACHINERY_ERROR: ClassVar[int] = 502
    #: The execution ran out of time.
    TIMED_OUT: ClassVar[int] = 504

    def statuses(self) -> list[int]:
        """Every status an answer may have, for the method responses."""
        fixed = [self.PAYLOAD_MISMATCH, self.IN_PROGRESS, self.MACHINERY_ERROR, self.TIMED_OUT]
        return sorted({self.success, self.work_error, 400, *self.errors.values(), *fixed})
