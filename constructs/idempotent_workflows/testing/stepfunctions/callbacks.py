"""Task tokens on the local engine: ``.waitForTaskToken`` tasks and the answers to them.

moto runs a task that waits for a token (``arn:aws:states:::sqs:sendMessage.waitForTaskToken``,
...) and resumes it on SendTaskSuccess or SendTaskFailure. The functions below close its gaps,
each by replacing one moto attribute; ``patched_moto`` applies them (``patches``).

- ``scaled_wait_for_task_token``: HeartbeatSeconds and TimeoutSeconds of a waiting task elapse
  on the engine's scaled clock (``seconds * wait_scale``), as Wait states do. moto waited in
  real time, let a heartbeat window run past the task's timeout, and never woke a waiting task
  whose execution was stopped.
- ``send_task_success``, ``send_task_failure``, ``send_task_heartbeat``: answer as Step
  Functions does. A token whose task no longer waits (answered, timed out, its execution ended
  or stopped) is ``TaskTimedOut``; a token no task was given is ``InvalidToken``; an output
  that is not JSON is ``InvalidOutput``; a heartbeat is accepted for any waiting task. moto
  accepted a second SendTaskFailure, and answered ``InvalidToken`` to late tokens and to
  heartbeats for tasks without HeartbeatSeconds.
- ``send_task_failure_answer``: SendTaskFailure keeps its ``cause`` (moto's answer dropped it).
- ``step_functions_default_timeout``: a task with HeartbeatSeconds and no TimeoutSeconds may
  wait 99,999,999 s, as in Step Functions (moto gave it 60 real seconds).
- ``heartbeat_timeout_named``: a task that missed its heartbeat fails with ``States.Timeout``,
  as Step Functions records it (``TaskTimedOut``), and a Retry or Catch on
  ``States.HeartbeatTimeout`` matches it as well as one on ``States.Timeout``.
"""

from __future__ import annotations

import functools
import json
import math
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

from ..moto_compat import (
    ActionResult,
    CallbackOutcome,
    CallbackOutcomeFailure,
    CallbackOutcomeSuccess,
    CallbackOutcomeTimedOut,
    EmptyResult,
    ExecutionState,
    ExecutionStatus,
    HeartbeatTimedOut,
    HeartbeatTimeoutError,
    InvalidToken,
    ResourceCondition,
    SendTaskFailureOutput,
    ServiceException,
    StatesErrorName,
    StatesErrorNameType,
    StateTaskServiceCallback,
    StepFunctionResponse,
    StepFunctionsParserBackend,
    TimeoutSeconds,
    executions,
    replace,
    request_parameter,
    wrap,
)

#: How often a waiting task checks that its execution still runs (StopExecution ends the wait).
_STOP_CHECK_SECONDS: Final = 0.05
#: When each waiting task (by moto's callback endpoint) last had a heartbeat.
_LAST_HEARTBEAT: Final = weakref.WeakKeyDictionary[Any, float]()
#: Callback endpoints whose task no longer waits.
_CLOSED: Final = weakref.WeakSet[Any]()


def _outcome(
    env: Any, endpoint: Any, timeout: float, heartbeat: float | None
) -> CallbackOutcome | HeartbeatTimedOut:
    """Wait for the task's outcome, at most ``timeout`` s and ``heartbeat`` s without a beat.

    A stopped execution ends the wait as a timeout would (``stopping`` records nothing of it).
    """
    start = time.monotonic()
    deadline = start + timeout
    while env.is_running():
        outcome: CallbackOutcome | None = endpoint.get_outcome()
        if outcome is not None:
            return outcome
        now = time.monotonic()
        beat_due = (
            math.inf if heartbeat is None else _LAST_HEARTBEAT.get(endpoint, start) + heartbeat
        )
        if now >= deadline:
            break
        if now >= beat_due:
            return HeartbeatTimedOut()
        endpoint.wait(timeout=min(deadline, beat_due, now + _STOP_CHECK_SECONDS) - now)
    return CallbackOutcomeTimedOut(callback_id=endpoint.callback_id)


def scaled_wait_for_task_token(
    scale: Callable[[], float], original: Callable[..., Any]
) -> Callable[..., Any]:
    """Wait for a task token on the scaled clock (replaces ``_eval_wait_for_task_token``).

    Only tasks that wait for a token (``.waitForTaskToken``) are on the scaled clock: the work
    of ``.sync`` tasks runs in real time, so their timeouts stay moto's. Without
    TimeoutSeconds, a task waits up to 99,999,999 s, as in Step Functions (see
    ``step_functions_default_timeout``).
    """

    def wait_for_task_token(
        self: Any, env: Any, timeout_seconds: int, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        if self.resource.condition != ResourceCondition.WaitForTaskToken:
            return original(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        factor = scale()
        heartbeat = None
        if heartbeat_endpoint is not None:
            self.heartbeat.eval(env=env)
            heartbeat = env.stack.pop() * factor
        try:
            return _outcome(env, callback_endpoint, timeout_seconds * factor, heartbeat)
        finally:
            _CLOSED.add(callback_endpoint)

    return wait_for_task_token


def step_functions_default_timeout(original: Callable[..., Any]) -> Callable[..., Any]:
    """A task with HeartbeatSeconds and no TimeoutSeconds gets Step Functions' default.

    Replaces ``ExecutionState.from_state_props``. moto gave such a task the Amazon States
    Language's 60 s, which its outer wait then applied in real time, whatever ``wait_scale``;
    Step Functions lets it wait 99,999,999 s.
    """

    def from_state_props(self: Any, state_props: Any) -> None:
        original(self, state_props)
        if isinstance(self.timeout, TimeoutSeconds) and self.timeout.is_default_value():
            self.timeout = TimeoutSeconds(timeout_seconds=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS)

    return from_state_props


class TaskTimedOut(ServiceException):
    """Step Functions' answer to a token whose task no longer waits."""

    code = "TaskTimedOut"


class InvalidOutput(ServiceException):
    """Step Functions' answer to SendTaskSuccess with an output that is not JSON."""

    code = "InvalidOutput"


def _waiting_task(backend: Any, task_token: str) -> Any:
    """The callback endpoint of the task that waits for ``task_token``.

    Raises
    ------
    TaskTimedOut
        The task got the token but no longer waits, as Step Functions answers a late token.
    InvalidToken
        No task got the token.
    """
    for execution in executions(backend):
        env = getattr(execution.exec_worker, "env", None)
        endpoint = None if env is None else env.callback_pool_manager.get(task_token)
        if endpoint is None:
            continue
        ended = execution.exec_status != ExecutionStatus.RUNNING
        if ended or endpoint in _CLOSED or endpoint.get_outcome() is not None:
            raise TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")
        return endpoint
    raise InvalidToken()


def send_task_success(self: Any, task_token: str, outcome: str) -> None:
    """SendTaskSuccess: resume the waiting task with ``outcome`` (JSON) as its result."""
    try:
        json.loads(outcome)
    except (TypeError, ValueError):
        raise InvalidOutput("Invalid Output: the output is not valid JSON") from None
    endpoint = _waiting_task(self, task_token)
    endpoint.notify(CallbackOutcomeSuccess(callback_id=task_token, output=outcome))


def send_task_failure(
    self: Any, task_token: str, error: str | None = None, cause: str | None = None
) -> SendTaskFailureOutput:
    """SendTaskFailure: fail the waiting task with ``error`` and ``cause``."""
    endpoint = _waiting_task(self, task_token)
    endpoint.notify(CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause))
    return SendTaskFailureOutput()


def send_task_heartbeat(self: Any, task_token: str) -> None:
    """SendTaskHeartbeat: the waiting task's heartbeat window starts again."""
    endpoint = _waiting_task(self, task_token)
    _LAST_HEARTBEAT[endpoint] = time.monotonic()
    endpoint.notify_heartbeat()  # moto's own heartbeat wait (tasks not on the scaled clock)


def send_task_failure_answer(self: Any) -> ActionResult:
    """Answer SendTaskFailure, passing its ``cause`` on (replaces moto's response method)."""
    self.stepfunction_backend.send_task_failure(
        request_parameter(self, "taskToken"),
        error=request_parameter(self, "error"),
        cause=request_parameter(self, "cause"),
    )
    return EmptyResult()


class _HeartbeatTimeout(StatesErrorName):
    """``States.Timeout``, which a Retry or Catch on ``States.HeartbeatTimeout`` also matches."""

    def __init__(self) -> None:
        super().__init__(typ=StatesErrorNameType.StatesTimeout)

    def matches(self, error_name: str | None) -> bool:
        return error_name in ("States.Timeout", "States.HeartbeatTimeout")


def heartbeat_timeout_named(original: Callable[..., Any]) -> Callable[..., Any]:
    """Name a missed heartbeat (replaces ``_from_error`` of the tasks that wait for tokens).

    Step Functions records ``States.Timeout`` for it (a recorded ``TaskTimedOut``), and since
    2021 lets a Retry or Catch single it out with ``States.HeartbeatTimeout``; moto only matched
    ``States.Timeout``.
    """

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        event = original(self, env, ex)
        if isinstance(ex, HeartbeatTimeoutError):
            event.error_name = _HeartbeatTimeout()
        return event

    return from_error


def patches(wait_scale: Callable[[], float]) -> list[Any]:
    """The patches of this module (``unittest.mock`` patchers), built from moto's attributes now.

    Parameters
    ----------
    wait_scale
        Returns the factor applied to a waiting task's HeartbeatSeconds and TimeoutSeconds.
    """
    waiting = StateTaskServiceCallback
    backend = StepFunctionsParserBackend
    return [
        wrap(ExecutionState, "from_state_props", step_functions_default_timeout),
        wrap(waiting, "_from_error", heartbeat_timeout_named),
        wrap(
            waiting,
            "_eval_wait_for_task_token",
            functools.partial(scaled_wait_for_task_token, wait_scale),
        ),
        replace(backend, "send_task_success", send_task_success),
        replace(backend, "send_task_failure", send_task_failure),
        replace(backend, "send_task_heartbeat", send_task_heartbeat),
        replace(StepFunctionResponse, "send_task_failure", send_task_failure_answer),
    ]
