"""StopExecution on the local engine: the execution ends ``ABORTED``, ``ExecutionAborted`` last.

moto marks a stopped execution and lets the state in progress run on. A state that then failed
(a task waiting for a token fails when the stop ends its wait) turned the execution
``FAILED``, and its events followed the stop in the history; Step Functions records nothing
after ``ExecutionAborted``. Each function below replaces one moto attribute; ``patches``
lists them for ``patched_moto``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Final

from ..moto_compat import Environment, EventManager, ExecutionWorker, HistoryEventType, wrap

#: The event managers (one per execution, shared by its branches) of stopped executions.
_STOPPED: Final = weakref.WeakSet[Any]()


def stop_recorded(original: Callable[..., None]) -> Callable[..., None]:
    """Remember that StopExecution stopped an execution (replaces the worker's ``stop``).

    Only StopExecution: moto stops the other branches of a Parallel state the same way when
    one fails, and those go on recording.
    """

    def stop(self: Any, *args: Any, **kwargs: Any) -> None:
        # Marked first: moto's stop wakes the state in progress, which must find it stopped.
        _STOPPED.add(self.env.event_manager)
        original(self, *args, **kwargs)

    return stop


def error_unless_stopped(original: Callable[..., None]) -> Callable[..., None]:
    """A stopped execution stays stopped when a state fails after the stop."""

    def set_error(self: Any, *args: Any, **kwargs: Any) -> None:
        if self.event_manager not in _STOPPED:
            original(self, *args, **kwargs)

    return set_error


def event_unless_stopped(original: Callable[..., int]) -> Callable[..., int]:
    """A stopped execution records ``ExecutionAborted`` and nothing else."""

    def add_event(self: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
        if self in _STOPPED and event_type != HistoryEventType.ExecutionAborted:
            last: int = context.last_published_event_id
            return last
        return original(self, context, event_type, *args, **kwargs)

    return add_event


def patches() -> list[Any]:
    """The patches of this module (``unittest.mock`` patchers)."""
    return [
        wrap(ExecutionWorker, "stop", stop_recorded),
        wrap(Environment, "set_error", error_unless_stopped),
        wrap(EventManager, "add_event", event_unless_stopped),
    ]
