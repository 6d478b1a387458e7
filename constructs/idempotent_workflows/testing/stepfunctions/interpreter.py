"""Small, named completions of moto's Step Functions interpreter (docs/engine.md).

moto runs Amazon States Language with an interpreter ported from LocalStack, with a few gaps.
Each function below closes one, by replacing one moto attribute; ``patches`` lists them for
``patched_moto``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Final

from ..moto_compat import (
    BaseExecutionWorkerCommunication,
    CustomErrorName,
    ExecutionWorker,
    FailureEventException,
    InvalidExecutionInput,
    StatesErrorName,
    StatesErrorNameType,
    ValidationException,
    WaitFunction,
    branches_decl,
    iteration_worker,
    mock_eval_utils,
    replace,
    retrier_decl,
    service_tasks_naming_their_errors,
    state_fail,
    wrap,
)
from ..run.contents import strict_json


def _keep_failure_events(original: Callable[..., Any]) -> Callable[..., Any]:
    """Keep the failure of a service task's Arguments instead of renaming it.

    Service tasks rename every error of theirs: a failed JSONata evaluation in a DynamoDB
    task's Arguments became ``DynamoDB.AmazonDynamoDBException`` instead of
    ``States.QueryEvaluationError``.
    """

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, FailureEventException):
            return ex.failure_event
        return original(self, env, ex)

    return from_error


def _passed_on_error_name(error_name: str | None) -> Any:
    """Name an error passed on by a branch or a Fail state, predefined ``States.*`` included.

    moto wraps the error of a failed Parallel branch or Map iteration, and a Fail state's
    dynamic Error, in a custom error name, which rejects the ``States.`` prefix: a branch
    ending in States.DataLimitExceeded failed the whole execution with States.Runtime instead
    of reaching the Parallel state's Catch, and so did a Fail state re-raising that error.
    The same holds for the error of a mocked response's ``Throw``.
    """
    if error_name and error_name.startswith("States."):
        with contextlib.suppress(ValueError):
            return StatesErrorName(typ=StatesErrorNameType.from_name(error_name))
    return CustomErrorName(error_name=error_name)


def _scaled_wait(scale: Callable[[], float]) -> Callable[..., None]:
    """Wait states sleep ``seconds * scale()`` so that a 10-second poll costs milliseconds."""

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * scale())

    return wait_interval


def _scaled_retry_interval(scale: Callable[[], float]) -> SimpleNamespace:
    """Stands for the ``time`` module of moto's retrier: intervals sleep ``seconds * scale()``.

    A Retry's IntervalSeconds, BackoffRate and MaxDelaySeconds scale like Wait states.
    """
    return SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale()))


def _execution_context(original: Callable[..., Any]) -> Callable[..., Any]:
    """The context object's ``Execution`` as Step Functions writes it.

    ``StartTime`` is an ISO 8601 string, not a datetime; ``RedriveCount`` is there, 0 (the
    engine never redrives), as "Accessing execution data from the Context object" lists it.
    """

    def environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        execution.setdefault("RedriveCount", 0)
        start = execution["StartTime"]
        if hasattr(start, "isoformat"):
            execution["StartTime"] = start.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return env

    return environment


#: The largest execution input, state input or output and task result: 256 KiB of UTF-8 (the
#: bytes of its JSON text).
MAX_PAYLOAD_BYTES: Final = 256 * 1024


def _checking_input(
    original: Callable[..., Any], check: Callable[[str], None]
) -> Callable[..., Any]:
    """StartExecution (or StartSyncExecution) that runs ``check`` on the input first."""

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if execution_input is not None:
            check(execution_input)
        return original(self, state_machine_arn, name, execution_input, *args, **kwargs)

    return start_execution


def _within_the_limit(execution_input: str) -> None:
    if len(execution_input.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
        raise ValidationException(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}"
        )


def input_length_limit(original: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse an execution input over 256 KiB at StartExecution, as Step Functions does.

    moto starts the execution and fails it only after its first state, which may already have
    written to a table.
    """
    return _checking_input(original, _within_the_limit)


def _json(execution_input: str) -> None:
    try:
        strict_json(execution_input)
    except ValueError as error:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{error}'") from None


def json_input_only(original: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse an execution input with ``NaN`` or ``Infinity``, which are not JSON.

    moto checks the input with Python's parser, which takes them; Step Functions answers
    ``InvalidExecutionInput``.
    """
    return _checking_input(original, _json)


def generated_name(original: Callable[..., Any]) -> Callable[..., Any]:
    """Name an execution started without a name with a UUID, as Step Functions does.

    moto named it ``None``: a second nameless start of the same state machine (a child started
    by a Task state without ``Name``) was taken for the first one, or refused.
    """

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    return start_execution


#: How long StopExecution waits for a just-started execution to be set up (seconds).
_SET_UP_SECONDS: Final = 5.0


def _stopped_once_set_up(original: Callable[..., None]) -> Callable[..., None]:
    """Stop a just-started execution once its worker has set it up.

    moto's worker thread creates the execution's environment first thing; a StopExecution
    before that (a parent stopping the child it has just started, the engine closing) failed
    with ``AttributeError``.
    """

    def stop(self: Any, *args: Any, **kwargs: Any) -> None:
        deadline = time.monotonic() + _SET_UP_SECONDS
        while self.env is None and time.monotonic() < deadline:
            time.sleep(0.001)
        original(self, *args, **kwargs)

    return stop


def _signalled_end(ended: Callable[[str], None]) -> Callable[[Callable[..., None]], Any]:
    """Call ``ended(execution_arn)`` when an execution has recorded its end.

    Replaces ``terminated`` of moto's execution worker communication, so that callers wait on
    an event (``run.completion``) instead of polling.
    """

    def signalled(original: Callable[..., None]) -> Callable[..., None]:
        def terminated(self: Any) -> None:
            original(self)
            ended(self.execution.exec_arn)

        return terminated

    return signalled


def failure_event_patches() -> list[Any]:
    """Service tasks keep a failure event instead of renaming it (``_keep_failure_events``)."""
    return [
        wrap(cls, "_from_error", _keep_failure_events)
        for cls in service_tasks_naming_their_errors()
    ]


def patches(wait_scale: Callable[[], float], execution_ended: Callable[[str], None]) -> list[Any]:
    """The other patches of this module: error names, the scaled clock, executions.

    Parameters
    ----------
    wait_scale
        Returns the factor applied to every Wait state's duration and Retry interval.
    execution_ended
        Called with an execution's ARN once its end (status, output or error) is recorded.
    """
    return [
        *(
            replace(module, "CustomErrorName", _passed_on_error_name)
            for module in (branches_decl, iteration_worker, state_fail, mock_eval_utils)
        ),
        replace(WaitFunction, "_wait_interval", _scaled_wait(wait_scale)),
        replace(retrier_decl, "time", _scaled_retry_interval(wait_scale)),
        wrap(ExecutionWorker, "_get_evaluation_environment", _execution_context),
        wrap(BaseExecutionWorkerCommunication, "terminated", _signalled_end(execution_ended)),
    ]


def stop_patches() -> list[Any]:
    """StopExecution of an execution that has just started (``_stopped_once_set_up``)."""
    return [wrap(ExecutionWorker, "stop", _stopped_once_set_up)]
