r"""Step Functions behaviours moto's interpreter lacks: sizes, DynamoDB's answers, Wait times.

- Payloads are measured as Step Functions measures them: the UTF-8 bytes of the JSON text
  (moto counted every non-ASCII character as a six-byte ``\uXXXX`` escape, so a 120 KiB input
  in another script failed as over 256 KiB), and a task's input after ``Arguments`` (or
  ``Parameters``) is measured too, as "Handling errors in Step Functions workflows" lists for
  ``States.DataLimitExceeded``.
- DynamoDB's optimized integration names an error its API does not model
  ``DynamoDB.AmazonDynamoDBException`` (a ``ValidationException`` among them), and returns
  only the fields DynamoDB returns for the request (moto's backend always added
  ``ConsumedCapacity``).
- A JSONata ``Timestamp`` of a Wait state that is no ISO 8601 timestamp (or no string) fails
  the state with ``States.QueryEvaluationError`` (moto: ``States.Runtime``).

Lambda's ``ExecutedVersion`` and ``Lambda.ResourceNotFoundException`` are the engine's own
(``LocalEngine._invoke``); ``RedriveCount`` is ``interpreter``'s.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable
from typing import Any, Final, cast

import botocore.session

from ..jsonata.evaluator import JSONataEvaluationError
from ..moto_compat import (
    EventDetails,
    FailureEvent,
    FailureEventException,
    HistoryEventType,
    StatesErrorName,
    StatesErrorNameType,
    StateTask,
    TaskFailedEventDetails,
    Timestamp,
    replace,
    state_module,
    state_task_lambda,
    state_task_service,
    state_task_service_dynamodb,
    string_expression,
    wrap,
)
from .interpreter import MAX_PAYLOAD_BYTES
from .jsonata_fields import query_evaluation_error

# -- payload size: UTF-8 bytes of the JSON text ----------------------------------------------------


def _as_json(value: Any) -> Any:
    """What moto's own encoder writes for a value JSON has no type for (a datetime, ...)."""
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def payload_bytes(value: Any) -> int:
    """The size Step Functions counts: the UTF-8 bytes of the value's JSON text."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_as_json)
    return len(text.encode("utf-8", "surrogatepass"))


def within_size_quota(value: Any) -> bool:
    """Replaces moto's ``is_within_size_quota`` (escaped non-ASCII, spaces after separators)."""
    return payload_bytes(value) <= MAX_PAYLOAD_BYTES


def _task_input_measured(original: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """A task whose input, after ``Arguments`` or ``Parameters``, is over 256 KiB fails."""

    def eval_parameters(self: Any, env: Any) -> dict[str, Any]:
        parameters = original(self, env)
        size = payload_bytes(parameters)
        if size > MAX_PAYLOAD_BYTES:
            name = StatesErrorNameType.StatesStatesDataLimitExceeded
            details = TaskFailedEventDetails(
                error=name.to_name(),
                cause=(
                    f"The state/task '{self.name}' has an input of {size} bytes after "
                    "Arguments or Parameters, over the maximum number of bytes service limit "
                    f"({MAX_PAYLOAD_BYTES})."
                ),
            )
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=name),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=cast(EventDetails, {"taskFailedEventDetails": details}),
                )
            )
        return parameters

    return eval_parameters


# -- DynamoDB, optimized integration: error names and result shape -------------------------------


@functools.cache
def _modeled_dynamodb_errors() -> frozenset[str]:
    """The error codes DynamoDB's API models (``ConditionalCheckFailedException``, ...)."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    return frozenset(shape.name for shape in model.error_shapes)


def _dynamodb_error_names(original: Callable[[Any], tuple[str, str]]) -> Any:
    """An error DynamoDB's API does not model is ``DynamoDB.AmazonDynamoDBException``.

    moto named it after its code (``DynamoDB.ValidationException``).
    """

    def error_cause(client_error: Any) -> tuple[str, str]:
        error, cause = original(client_error)
        if client_error.response["Error"]["Code"] not in _modeled_dynamodb_errors():
            error = "DynamoDB.AmazonDynamoDBException"
        return error, cause

    return staticmethod(error_cause)


#: Result fields DynamoDB returns only when the request asks for them, and the values that ask.
_ON_REQUEST: Final = {
    "ConsumedCapacity": ("ReturnConsumedCapacity", {"TOTAL", "INDEXES"}),
    "ItemCollectionMetrics": ("ReturnItemCollectionMetrics", {"SIZE"}),
}


def _dynamodb_result_shape(original: Callable[..., None]) -> Callable[..., None]:
    """Drop the result fields the request did not ask for (moto always added capacity)."""

    def eval_service_task(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        original(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        result = env.stack[-1]
        for field, (parameter, asking) in _ON_REQUEST.items():
            if normalised_parameters.get(parameter) not in asking:
                result.pop(field, None)

    return eval_service_task


# -- Wait: a JSONata Timestamp that is no timestamp ---------------------------------------------


def _timestamp_failure(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_failure_event(self: Any, env: Any, timestamp: Any) -> Any:
        if not isinstance(self.string, string_expression.StringJSONata):
            return original(self, env, timestamp)
        error = JSONataEvaluationError(
            f"The JSONata expression '{self.string.expression.strip()}' specified for the field "
            f"'Timestamp' returned {json.dumps(timestamp)}, which is not an ISO-8601 extended "
            "offset date-time string such as 2026-01-31T12:00:00Z.",
            "Timestamp",
        )
        return query_evaluation_error(env, error).failure_event

    return create_failure_event


def _timestamp_of_any_type(original: Callable[..., Any]) -> Any:
    """A timestamp that is no string is no timestamp (moto failed with a TypeError)."""

    def from_timestamp_string(timestamp: Any) -> Any:
        return original(timestamp) if isinstance(timestamp, str) else None

    return staticmethod(from_timestamp_string)


def patches() -> list[Any]:
    """The patches of this module (``unittest.mock`` patchers)."""
    dynamodb = state_task_service_dynamodb.StateTaskServiceDynamoDB
    return [
        *(
            replace(module, "is_within_size_quota", within_size_quota)
            for module in (state_module, state_task_lambda, state_task_service)
        ),
        *(
            wrap(task, "_eval_parameters", _task_input_measured)
            for task in (StateTask, state_task_lambda.StateTaskLambda)
        ),
        wrap(dynamodb, "_error_cause_from_client_error", _dynamodb_error_names),
        wrap(dynamodb, "_eval_service_task", _dynamodb_result_shape),
        wrap(Timestamp, "_create_failure_event", _timestamp_failure),
        wrap(Timestamp, "_from_timestamp_string", _timestamp_of_any_type),
    ]
