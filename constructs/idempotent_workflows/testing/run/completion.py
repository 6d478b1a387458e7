"""Executions signal their end, so that callers wait on an event instead of polling.

moto's worker calls ``Completions.ended`` when an execution has recorded its end (the patch is
``stepfunctions.interpreter``'s); ``Execution.wait`` and nested executions wait on it.
"""

from __future__ import annotations

import threading


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
