"""Executions signal their end, so that callers wait on an event instead of polling."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Completions:
    """One ``threading.Event`` per execution ARN, set when the execution ends.

    Either side may come first: the event is created by whichever of :meth:`ended` (the
    execution's worker thread) and :meth:`wait` (a caller) asks for it first.
    """

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _event(self, arn: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(arn, threading.Event())

    def ended(self, arn: str) -> None:
        """Record that the execution ``arn`` ended (whatever its status)."""
        self._event(arn).set()

    def wait(self, arn: str, timeout: float) -> bool:
        """Block until the execution ``arn`` ends; ``False`` if ``timeout`` seconds pass first."""
        return self._event(arn).wait(timeout)


def signalled_end(
    original: Callable[..., None], ended: Callable[[str], None]
) -> Callable[..., None]:
    """Call ``ended(execution_arn)`` when an execution has recorded its end.

    Replaces ``terminated`` of moto's execution worker communication (``patched_moto``).
    """

    def terminated(self: Any) -> None:
        original(self)
        ended(self.execution.exec_arn)

    return terminated
