"""Small, named completions of moto's Step Functions interpreter (docs/engine.md).

moto (pinned in constraints.txt) runs Amazon States Language with an interpreter ported from
LocalStack, with a few gaps. Each function below closes one, by replacing one moto attribute;
``patched_moto`` applies them all for the duration of a ``with`` block and restores moto after,
together with the patches of ``completion`` (executions signal their end), ``fast_paths``
(speed), ``faults`` (mocked responses per test case), ``sync_execution``
(StartSyncExecution), ``callbacks`` (task tokens), ``messaging`` (SQS error names),
``stopping`` (StopExecution) and ``nested_executions`` (``states:startExecution`` tasks).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, Final, cast
from unittest import mock

import moto.backend_index
from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions import urls
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    iteration_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils,
    mock_eval_utils,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_dynamodb,
    state_task_service_sns,
    state_task_service_sqs,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.fail import state_fail
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.backend import execution_worker
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
    SyncExecution,
)
from moto.stepfunctions.parser.mocking.mock_config import MockTestCase
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from . import (
    callbacks,
    fast_paths,
    faults,
    messaging,
    nested_executions,
    stopping,
    sync_execution,
)
from .completion import signalled_end
from .jsonata_engine import JSONataEvaluationError, evaluate_jsonata


def _query_evaluation_error(env: Any, error: Exception) -> FailureEventException:
    name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=cast(
                EventDetails,
                {
                    "evaluationFailedEventDetails": EvaluationFailedEventDetails(
                        error=name.error_name, cause=str(error)
                    )
                },
            ),
        )
    )


def _evaluate_with_bindings(self: Any, env: Any) -> None:
    """Evaluate a JSONata expression or variable sample with ``$states`` and variables bound.

    moto writes every variable and ``$states`` into the expression text as JSON literals
    (strings unescaped) and hands the text to an evaluator hook it leaves empty; it finds the
    ``$states`` parts to write with a pattern that reads any ``/`` as a regex, so after a
    division ``$states.input`` went missing. Binding the values instead needs no text
    surgery, and each expression is parsed once. A failure is States.QueryEvaluationError,
    which a Catch can handle. Not reproduced: Step Functions' error for an expression that
    evaluates to nothing (jsonata-python returns None for both nothing and null).
    """
    store = env.variable_store
    bindings = {**store._outer_scope, **store._inner_scope, "states": env.states._states_data}
    try:
        env.stack.append(evaluate_jsonata(self.expression, bindings))
    except JSONataEvaluationError as error:
        raise _query_evaluation_error(env, error) from None


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


def _service_tasks_with_own_errors() -> list[type[StateTaskService]]:
    found: list[type[StateTaskService]] = []
    pending: list[type[StateTaskService]] = [StateTaskService]  # type: ignore[type-abstract]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "_from_error" in vars(cls):
            found.append(cls)
    return found


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


def _iso_start_time(original: Callable[..., Any]) -> Callable[..., Any]:
    """``$$.Execution.StartTime`` is an ISO 8601 string in Step Functions, not a datetime."""

    def environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        start = execution["StartTime"]
        if hasattr(start, "isoformat"):
            execution["StartTime"] = start.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return env

    return environment


#: Longest execution input StartExecution accepts, in UTF-8 bytes.
MAX_INPUT_BYTES: Final = 256 * 1024


def _input_length_limit(original: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse an execution input over 256 KiB at StartExecution, as Step Functions does.

    moto starts the execution and fails it only after its first state, which may already have
    written to a table.
    """

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if execution_input is not None and len(execution_input.encode()) > MAX_INPUT_BYTES:
            raise ValidationException(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_INPUT_BYTES}"
            )
        return original(self, state_machine_arn, name, execution_input, *args, **kwargs)

    return start_execution


def _generated_name(original: Callable[..., Any]) -> Callable[..., Any]:
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


def _reused_clients(original: Callable[..., Any]) -> Callable[..., Any]:
    """Reuse one boto3 client per region and service (clients are thread-safe).

    moto builds a new boto3 client for every Lambda and DynamoDB task, which costs more than
    the call itself: most of an execution's time went to client construction.
    """
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[region, service] = original(
                    region=region, service=service, state_credentials=state_credentials
                )
            return clients[region, service]

    return client_for


# One lock for every item operation: moto's conditional writes are not atomic across threads,
# and concurrency results are only true when a condition and its write happen as one step.
# Reads of many items take it too: moto builds an updated item attribute by attribute, and a
# scan in between saw an item without its status.
_ITEM_LOCK: Final = threading.RLock()
_ITEM_OPERATIONS: Final = (
    "put_item",
    "get_item",
    "scan",
    "query",
    "batch_get_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
)


def _atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _ITEM_LOCK:
            return operation(*args, **kwargs)

    return locked


@contextlib.contextmanager
def patched_moto(
    wait_scale: Callable[[], float],
    execution_ended: Callable[[str], None],
    test_case_for: Callable[[str, str], MockTestCase],
    wait_for_end: Callable[[str, float], bool],
) -> Iterator[None]:
    """Apply every completion of moto for the duration of the block.

    Parameters
    ----------
    wait_scale
        Returns the factor applied to every Wait state's duration (1.0 waits for real).
    execution_ended
        Called with an execution's ARN once its end (status, output or error) is recorded.
    test_case_for
        Returns the mocked responses (``faults``) of a test case, given the state machine ARN
        and the test case name; raises ``LookupError`` if there is no such test case.
    wait_for_end
        ``wait_for_end(execution_arn, timeout)`` blocks until the execution ends (``True``) or
        ``timeout`` seconds pass (``False``); a parent waits so for its child
        (``nested_executions``).
    """
    with contextlib.ExitStack() as stack:
        patch = stack.enter_context
        for evaluated in (string_expression.StringJSONata, string_expression.StringVariableSample):
            patch(mock.patch.object(evaluated, "_eval_body", _evaluate_with_bindings))
        for cls in _service_tasks_with_own_errors():
            patch(mock.patch.object(cls, "_from_error", _keep_failure_events(cls._from_error)))
        # Built now: the task tokens' and SQS's patches wrap the _from_error patched above.
        waiting = callbacks.patches(wait_scale)
        for patcher in (*waiting, messaging.sqs_error_names_patch(), *stopping.patches()):
            patch(patcher)
        for module in (branches_decl, iteration_worker, state_fail, mock_eval_utils):
            patch(mock.patch.object(module, "CustomErrorName", _passed_on_error_name))
        patch(mock.patch.object(WaitFunction, "_wait_interval", _scaled_wait(wait_scale)))
        patch(mock.patch.object(retrier_decl, "time", _scaled_retry_interval(wait_scale)))
        worker = execution_worker.ExecutionWorker
        patch(
            mock.patch.object(
                worker,
                "_get_evaluation_environment",
                _iso_start_time(worker._get_evaluation_environment),
            )
        )
        backend = StepFunctionsParserBackend
        start = _input_length_limit(backend.start_execution)
        start = _generated_name(start)
        start = faults.test_case_from_arn(start, test_case_for)
        patch(mock.patch.object(backend, "start_execution", start))
        start_sync = _input_length_limit(sync_execution.start_sync_execution)
        start_sync = faults.test_case_from_arn(start_sync, test_case_for)
        patch(mock.patch.object(backend, "start_sync_execution", start_sync, create=True))
        answer = sync_execution.start_sync_execution_response
        patch(mock.patch.object(StepFunctionResponse, "start_sync_execution", answer, create=True))
        patterns = sync_execution.sync_url_patterns()
        patch(mock.patch.object(moto.backend_index, "backend_url_patterns", patterns))
        patch(mock.patch.object(urls, "url_bases", sync_execution.sync_url_bases()))
        client_for = _reused_clients(boto_client.boto_client_for)
        for module in (
            lambda_eval_utils,
            state_task_service_dynamodb,
            state_task_service_sqs,
            state_task_service_sns,
        ):
            patch(mock.patch.object(module, "boto_client_for", client_for))
        patch(nested_executions.nested_executions(wait_for_end, client_for))
        parse = fast_paths.parsed_once(AmazonStateLanguageParser.parse)
        patch(mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(parse)))
        patch(mock.patch.object(EvalComponent, "heap_key", property(fast_paths.heap_key)))
        communication = BaseExecutionWorkerCommunication
        ended = signalled_end(communication.terminated, execution_ended)
        patch(mock.patch.object(communication, "terminated", ended))
        program = fast_paths.program_in_worker_thread(Program.eval)
        patch(mock.patch.object(Program, "eval", program))
        state = execute_state.ExecutionState
        untimed = fast_paths.tasks_inline_without_timeout(state._evaluate_with_timeout)
        patch(mock.patch.object(state, "_evaluate_with_timeout", untimed))
        patch(mock.patch.object(execute_state, "Thread", fast_paths.task_thread))
        patch(
            mock.patch.object(
                result_path,
                "parse",
                fast_paths.parsed_once_per_path(result_path.parse),  # type: ignore[attr-defined]
            )
        )
        patch(mock.patch.object(worker, "start", fast_paths.worker_start(worker.start)))
        patch(mock.patch.object(worker, "stop", _stopped_once_set_up(worker.stop)))
        for execution in (Execution, SyncExecution):
            with_case = faults.worker_with_test_case(execution._get_start_execution_worker)
            patch(mock.patch.object(execution, "_get_start_execution_worker", with_case))
        mocked = faults.mocked_until_responses_run_out
        patch(mock.patch.object(Environment, "is_mocked_mode", mocked))
        for name in _ITEM_OPERATIONS:
            patch(mock.patch.object(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name))))
        yield
