"""Nested executions: a Task state that starts another state machine (``states:startExecution``).

moto's interpreter (ported from LocalStack) has this integration, request-response, ``.sync``
and ``.sync:2``, but its port leaves out the step that converts between Step Functions' field
names and boto3's: the request reached boto3 as ``Input`` and ``StateMachineArn`` (refused), and
the response came back as ``executionArn`` with datetimes, where the ``.sync`` resolvers read
``ExecutionArn``. It also polls the child every 0.5 s (in a loop that fails once the parent
stopped), writes the task's cause with spaces
after separators, and moto's DescribeExecution leaves out ``inputDetails``. The functions
below close these gaps; ``patches`` lists them for ``patched_moto``.

What Step Functions answers (LocalStack's recordings against AWS, and a cause AWS wrote): the
child's DescribeExecution in PascalCase, keys in alphabetical order, dates in epoch
milliseconds, ``Input`` and ``Output`` as JSON text for ``.sync`` and as JSON values for
``.sync:2``; a child that does not succeed fails the task with ``States.TaskFailed`` and that
description, the child's own ``Error`` and ``Cause`` included, as the cause.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from operator import itemgetter
from typing import Any, Final

import botocore.session
from botocore import xform_name
from botocore.model import OperationModel

from ..moto_compat import (
    ActionResult,
    StepFunctionResponse,
    boto_service_action,
    from_boto_response,
    replace,
    state_task_service_sfn,
    sync_resolver,
    to_boto_request,
    to_json_str,
    wrap,
)

#: How often a parent waiting for its child checks that it still runs itself (seconds).
_PARENT_CHECK_SECONDS: Final = 0.05


@functools.cache
def _operation(action: str) -> OperationModel:
    """The Step Functions API operation of a boto3 method name (``start_execution``)."""
    model = botocore.session.get_session().get_service_model("stepfunctions")
    names = {xform_name(name): name for name in model.operation_names}
    return model.operation_model(names[action])


def _epoch_millis(value: Any) -> Any:
    """A datetime as Step Functions writes it in task results: epoch milliseconds."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    return value


def boto_cased_request(original: Callable[..., None]) -> Callable[..., None]:
    """Send the task's arguments to boto3 under boto3's names (``Input`` becomes ``input``)."""

    def normalise_parameters(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(self, parameters, boto_service_name, service_action_name)
        action = boto_service_action(self, service_action_name)
        to_boto_request(self, parameters, _operation(action).input_shape)

    return normalise_parameters


def step_functions_cased_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """Rewrite a boto3 response in place as Step Functions gives it to the state machine.

    PascalCase names, keys in alphabetical order, datetimes in epoch milliseconds.
    """
    if not isinstance(response, dict):
        return
    action = boto_service_action(self, service_action_name)
    from_boto_response(self, response, _operation(action).output_shape)
    fields = sorted(response.items(), key=itemgetter(0))
    response.clear()
    response.update((key, _epoch_millis(value)) for key, value in fields)


def compact_json(value: Any, separators: tuple[str, str] = (",", ":")) -> str:
    """JSON text without spaces after separators, as Step Functions writes it.

    Takes the arguments of moto's ``to_json_str``, which it replaces.
    """
    return to_json_str(value, separators=separators)


def described_as_step_functions(original: Callable[[Any], ActionResult]) -> Callable[[Any], Any]:
    """DescribeExecution as Step Functions answers it.

    With ``inputDetails``, the ``stopDate`` of every ended execution and the output as compact
    JSON text: moto left out the first and the stop date of a timed-out execution, and wrote
    the output with spaces.
    """

    def describe_execution(self: Any) -> ActionResult:
        answer: dict[str, Any] = original(self).result  # type: ignore[assignment]
        execution = self.stepfunction_backend.describe_execution(answer["executionArn"])
        answer["inputDetails"] = execution.input_details
        if execution.stop_date is not None:
            answer["stopDate"] = execution.stop_date
        if "output" in answer:
            answer["output"] = compact_json(execution.output)
        return ActionResult(answer)

    return describe_execution


def waiting_for_the_child(
    original: Callable[..., None],
    wait_for_end: Callable[[str, float], bool],
    client_for: Callable[..., Any],
) -> Callable[..., None]:
    """Wait for the child's end, then describe it once; stop it if the parent stops first.

    Replaces the integration pattern of a ``.sync`` or ``.sync:2`` task (``.waitForTaskToken``
    keeps moto's), which runs once StartExecution answered. moto's version polled the child
    every 0.5 s, in a loop beside a thread that needs a running parent: when the parent
    stopped, that thread failed. Here moto's resolver describes the ended child (its
    description, or the task's ``States.TaskFailed``). If the parent stops running first
    (stopped, or its task timed out), the child is stopped too, as Step Functions does with
    what a stopped ``.sync`` task was waiting for.
    """

    def eval_integration_pattern(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        build = sync_resolver(self, self.resource.condition)
        if build is None:
            original(self, env, resource_runtime_part, normalised_parameters, state_credentials)
            return
        child: str = env.stack[-1]["ExecutionArn"]
        while env.is_running():
            if wait_for_end(child, _PARENT_CHECK_SECONDS):
                # Takes StartExecution's answer from the stack; the child has ended.
                describe = build(
                    env, resource_runtime_part, normalised_parameters, state_credentials
                )
                env.stack.append(describe())
                return
        client = client_for(
            region=resource_runtime_part.region,
            service="stepfunctions",
            state_credentials=state_credentials,
        )
        client.stop_execution(executionArn=child)

    return eval_integration_pattern


def patches(
    wait_for_end: Callable[[str, float], bool], client_for: Callable[..., Any]
) -> list[Any]:
    """The patches of this module (``unittest.mock`` patchers).

    Parameters
    ----------
    wait_for_end
        ``wait_for_end(execution_arn, timeout)`` blocks until the execution ends and returns
        ``True``, or returns ``False`` after ``timeout`` seconds.
    client_for
        Replaces moto's ``boto_client_for`` (same signature) for the task's Step Functions
        calls.
    """
    task = state_task_service_sfn.StateTaskServiceSfn
    return [
        replace(state_task_service_sfn, "boto_client_for", client_for),
        wrap(task, "_normalise_parameters", boto_cased_request),
        replace(task, "_normalise_response", step_functions_cased_response),
        replace(state_task_service_sfn, "to_json_str", compact_json),
        wrap(StepFunctionResponse, "describe_execution", described_as_step_functions),
        wrap(
            task,
            "_eval_integration_pattern",
            lambda original: waiting_for_the_child(original, wait_for_end, client_for),
        ),
    ]
