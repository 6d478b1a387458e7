"""StartSyncExecution for Express state machines, which moto does not implement.

boto3 sends ``StartSyncExecution`` to the ``sync-states`` host; the functions here route that
host to moto's Step Functions responses, answer the action, and run the execution to its end
in the request's thread with moto's own synchronous execution (``SyncExecution``), as the
service does. ``patches`` lists them for ``patched_moto``.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from typing import Any, Final, TypeVar

from ..moto_compat import (
    ActionResult,
    BackendExecution,
    InvalidExecutionInput,
    ServiceException,
    StepFunctionResponse,
    SyncExecution,
    backend_index,
    replace,
    request_parameter,
    urls,
)

#: The kind of execution ``new_execution`` makes (moto's ``Execution`` or ``SyncExecution``).
ExecutionT = TypeVar("ExecutionT", BackendExecution, SyncExecution)

#: The host boto3 sends StartSyncExecution to (``sync-`` prefixed to the Step Functions host).
SYNC_URL_BASE: Final = r"https?://sync-states\.(.+)\.amazonaws.com"


class StateMachineTypeNotSupported(ServiceException):
    """The error Step Functions answers StartSyncExecution of a Standard state machine with."""

    code = "StateMachineTypeNotSupported"


def _sync_url_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """The service URL patterns of moto, plus the ``sync-states`` host for Step Functions."""
    return [*backend_index.backend_url_patterns, ("stepfunctions", re.compile(SYNC_URL_BASE))]


def _sync_url_bases() -> list[str]:
    """The Step Functions URL bases of moto, plus the ``sync-states`` host."""
    return [*urls.url_bases, SYNC_URL_BASE]


def start_sync_execution(
    self: Any,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> SyncExecution:
    """Run an Express execution to its end, as ``StepFunctionsParserBackend`` method.

    A Standard state machine is refused with ``StateMachineTypeNotSupported``, as Step
    Functions does. The execution is kept with the state machine's other executions, so that
    the local engine can read its history (Step Functions keeps Express histories only in
    CloudWatch Logs).
    """
    state_machine = self.describe_state_machine(state_machine_arn)
    if state_machine.type != "EXPRESS":
        raise StateMachineTypeNotSupported(
            "This operation is not supported by this type of state machine"
        )
    execution = new_execution(
        self,
        state_machine,
        SyncExecution,
        name=name or uuid.uuid4().hex,
        execution_input=execution_input,
        trace_header=trace_header,
    )
    execution.start()
    return execution


def new_execution(
    backend: Any,
    state_machine: Any,
    execution_class: type[ExecutionT],
    *,
    name: str,
    execution_input: str | None,
    trace_header: str | None,
    arn_suffix: str = "",
) -> ExecutionT:
    """A new execution of ``state_machine``, kept with its others, not started yet.

    For the Express starts the engine makes itself (StartSyncExecution, and StartExecution
    of an Express state machine, ``execution_names``): no name check, the ARN ends with
    ``name`` and ``arn_suffix``.

    Raises
    ------
    InvalidExecutionInput
        If ``execution_input`` is not JSON.
    """
    input_text = "{}" if execution_input is None else execution_input
    try:
        json.loads(input_text)
    except ValueError as error:
        raise InvalidExecutionInput(str(error)) from None
    execution = execution_class(
        name=name,
        sm_type=state_machine.type,
        role_arn=state_machine.roleArn,
        exec_arn=(
            f"arn:{backend.partition}:states:{backend.region_name}:{backend.account_id}:"
            f"execution:{state_machine.name}:{name}{arn_suffix}"
        ),
        account_id=backend.account_id,
        region_name=backend.region_name,
        state_machine=state_machine,
        start_date=datetime.datetime.now(tz=datetime.UTC),
        cloud_watch_logging_session=None,
        input_data=input_text,
        trace_header=trace_header,
        activity_store={},
    )
    state_machine.executions.append(execution)
    return execution


def start_sync_execution_response(self: Any) -> ActionResult:
    """Answer the ``StartSyncExecution`` action, as ``StepFunctionResponse`` method."""
    execution = self.stepfunction_backend.start_sync_execution(
        request_parameter(self, "stateMachineArn"),
        request_parameter(self, "name"),
        request_parameter(self, "input", if_none="{}"),
        request_parameter(self, "traceHeader"),
    )
    output = execution.to_start_sync_execution_output()
    return ActionResult({key: value for key, value in output.items() if value is not None})


def patches() -> list[Any]:
    """The ``sync-states`` host and the action's answer (``unittest.mock`` patchers).

    The backend's ``start_sync_execution`` is added by ``patched_moto``, wrapped like
    StartExecution.
    """
    return [
        replace(StepFunctionResponse, "start_sync_execution", start_sync_execution_response),
        replace(backend_index, "backend_url_patterns", _sync_url_patterns()),
        replace(urls, "url_bases", _sync_url_bases()),
    ]
