"""Shortcuts through moto's Step Functions interpreter that keep its behaviour.

Profiling a duplicate execution (four states, two DynamoDB calls) showed where its time went:
parsing the definition again at every start, and handing work between threads that moto
starts only to be able to enforce timeouts nobody set. Each function below removes one such
cost by replacing one moto attribute; ``patches`` lists them for ``patched_moto``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

from ..moto_compat import (
    AmazonStateLanguageParser,
    EvalComponent,
    ExecutionState,
    ExecutionWorker,
    Program,
    execute_state,
    replace,
    result_path,
    run_execution_logic,
    wrap,
)


def parsed_once(original: Callable[[str], Any]) -> Callable[[str], Any]:
    """Parse each definition text once, not once per execution.

    moto parses the whole definition with ANTLR at every start: for a small state machine
    that took most of an execution's time. The parsed program holds no execution state (each
    execution evaluates it in its own environment), so executions share it.
    """
    parsed: dict[str, Any] = {}
    lock = threading.Lock()

    def parse(definition: str) -> Any:
        with lock:
            if definition not in parsed:
                parsed[definition] = original(definition)
            return parsed[definition]

    return parse


def heap_key(self: Any) -> str:
    """A component's key in an execution's heap, fixed by the component's identity.

    moto draws a random key the first time a component asks for it; with a program shared
    by concurrent executions, two threads could draw different keys for one component.
    """
    return f"{type(self).__name__}-{id(self)}"


def program_in_worker_thread(original: Callable[..., None]) -> Callable[..., None]:
    """Run a program without ``TimeoutSeconds`` in the execution's worker thread.

    moto starts one more thread per execution only to be able to time the program out;
    the hand-off cost more than a short execution. With ``TimeoutSeconds``, moto's way.
    """

    def evaluate(self: Any, env: Any) -> None:
        if self.timeout_seconds:
            original(self, env)
            return
        env.next_state_name = self.start_at.start_at_name
        EvalComponent.eval(self, env)

    return evaluate


class _InlineThread:
    """Stands for a thread: runs its target at ``start()``, in the calling thread."""

    def __init__(self, target: Callable[[], None]) -> None:
        self._target: Callable[[], None] | None = target

    def start(self) -> None:
        # moto keeps every thread it starts in a module-level list: drop the target (and the
        # task's frame it holds) once it ran, as threading.Thread does.
        target, self._target = self._target, None
        if target is not None:
            target()


_UNTIMED_TASK: Final = threading.local()  # set while a state without a timeout is evaluated


def task_thread(target: Callable[[], None], daemon: bool) -> Any:
    """The thread that runs a task's work: inline when the task has no timeout to enforce."""
    if getattr(_UNTIMED_TASK, "active", False):
        _UNTIMED_TASK.active = False
        return _InlineThread(target)
    return threading.Thread(target=target, daemon=daemon)


def tasks_inline_without_timeout(original: Callable[..., None]) -> Callable[..., None]:
    """Run the work of a state without ``TimeoutSeconds`` in the state's own thread.

    moto runs every Task, Parallel and Map state's work in a new thread, to be able to time it
    out (by default after 99,999,999 s); two hand-offs per state cost more than a DynamoDB
    call. A state with a timeout or a heartbeat keeps moto's thread.
    """

    def evaluate_with_timeout(self: Any, env: Any) -> None:
        _UNTIMED_TASK.active = self.heartbeat is None and self.timeout.is_default_value()
        try:
            original(self, env)
        finally:
            _UNTIMED_TASK.active = False

    return evaluate_with_timeout


def parsed_once_per_path(original: Callable[[str], Any]) -> Callable[[str], Any]:
    """Parse each ResultPath once: moto parses it again at every state exit."""
    return functools.lru_cache(maxsize=None)(original)


_CALLER_RUNS: Final = threading.local()  # set while a caller runs its execution itself


@contextlib.contextmanager
def executions_in_this_thread() -> Iterator[None]:
    """Executions started inside the block run to their end before StartExecution returns.

    For a caller that would only start an execution and wait for it: the execution runs in
    the caller's thread, without two thread hand-offs.
    """
    _CALLER_RUNS.active = True
    try:
        yield
    finally:
        _CALLER_RUNS.active = False


def worker_start(original: Callable[[Any], None]) -> Callable[[Any], None]:
    """Start an execution in a new thread, or in this one (``executions_in_this_thread``)."""

    def start(self: Any) -> None:
        if getattr(_CALLER_RUNS, "active", False):
            _CALLER_RUNS.active = False  # what the execution itself starts runs as usual
            run_execution_logic(self)
        else:
            original(self)

    return start


def patches() -> list[Any]:
    """The patches of this module (``unittest.mock`` patchers)."""
    return [
        wrap(AmazonStateLanguageParser, "parse", lambda parse: staticmethod(parsed_once(parse))),
        replace(EvalComponent, "heap_key", property(heap_key)),
        wrap(Program, "eval", program_in_worker_thread),
        wrap(ExecutionState, "_evaluate_with_timeout", tasks_inline_without_timeout),
        replace(execute_state, "Thread", task_thread),
        wrap(result_path, "parse", parsed_once_per_path),
        wrap(ExecutionWorker, "start", worker_start),
    ]
