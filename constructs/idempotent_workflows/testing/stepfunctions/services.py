"""The services a task calls, as the local engine completes them: clients, Lambda, DynamoDB, SQS.

Each function below closes one gap by replacing one moto attribute; ``patches`` lists them
for ``patched_moto``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import ClientError

from ..moto_compat import (
    DYNAMODB_ITEM_OPERATIONS,
    CustomErrorName,
    DynamoDBBackend,
    LambdaBackend,
    LambdaSimpleBackend,
    boto_client,
    lambda_eval_utils,
    replace,
    state_task_service_dynamodb,
    state_task_service_sns,
    state_task_service_sqs,
    wrap,
)

#: Runs the local function that moto's Lambda backend was asked to invoke:
#: ``invoke(function_name, payload, response_headers)`` returns the response payload.
Invoke = Callable[[str, Any, dict[str, str]], bytes]


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


def reused_clients() -> Callable[..., Any]:
    """A ``boto_client_for`` that hands out one client per region and service."""
    return _reused_clients(boto_client.boto_client_for)


# One lock for every item operation: moto's conditional writes are not atomic across threads,
# and concurrency results are only true when a condition and its write happen as one step.
# Reads of many items take it too: moto builds an updated item attribute by attribute, and a
# scan in between saw an item without its status.
_ITEM_LOCK: Final = threading.RLock()


def _atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _ITEM_LOCK:
            return operation(*args, **kwargs)

    return locked


def _local_invocation(invoke: Invoke) -> Callable[..., bytes]:
    """Answer moto's Lambda ``invoke`` with the local function (moto replies a canned text)."""

    def invoked(backend: Any, function_name: str, qualifier: Any, body: Any, *rest: Any) -> bytes:
        return invoke(function_name, body, rest[-1])

    return invoked


def sqs_error_names(original: Callable[..., Any]) -> Callable[..., Any]:
    """Name a failed SQS call as Step Functions does (replaces the SQS task's ``_from_error``).

    moto names every error SQS answers ``SQS.SdkClientException``, with the bare message. Step
    Functions (recorded, for a missing parameter) answers ``SQS.AmazonSQSException`` with the
    cause in the AWS SDK for Java's format; it keeps ``SdkClientException`` for calls that got
    no answer. An error the SQS API models (``QueueDoesNotExist``) is named after its class in
    that SDK (``SQS.QueueDoesNotExistException``), as the DynamoDB integration names
    ``DynamoDB.ConditionalCheckFailedException``.
    """

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        event = original(self, env, ex)
        if not isinstance(ex, ClientError):
            return event
        modeled = type(ex).__name__  # botocore raises a class per modeled error, else ClientError
        exception = "AmazonSQS" if modeled == "ClientError" else modeled.removesuffix("Exception")
        details = event.event_details["taskFailedEventDetails"]
        details["error"] = f"SQS.{exception}Exception"
        event.error_name = CustomErrorName(details["error"])
        error, metadata = ex.response["Error"], ex.response["ResponseMetadata"]
        details["cause"] = (
            f"{error['Message']} (Service: AmazonSQS; Status Code: {metadata['HTTPStatusCode']}; "
            f"Error Code: {error['Code']}; Request ID: {metadata['RequestId']}; Proxy: null)"
        )
        return event

    return from_error


def sqs_error_names_patch() -> Any:
    """The patcher of ``sqs_error_names``, wrapping the SQS task's current ``_from_error``."""
    return wrap(state_task_service_sqs.StateTaskServiceSqs, "_from_error", sqs_error_names)


def patches(client_for: Callable[..., Any], invoke: Invoke) -> list[Any]:
    """Reused clients, local Lambda functions and atomic DynamoDB items (patchers).

    Parameters
    ----------
    client_for
        Replaces moto's ``boto_client_for`` (``reused_clients``) for Lambda, DynamoDB, SQS and
        SNS tasks.
    invoke
        Runs a local function (``Invoke``).
    """
    return [
        *(
            replace(module, "boto_client_for", client_for)
            for module in (
                lambda_eval_utils,
                state_task_service_dynamodb,
                state_task_service_sqs,
                state_task_service_sns,
            )
        ),
        *(
            replace(backend, "invoke", _local_invocation(invoke))
            for backend in (LambdaBackend, LambdaSimpleBackend)
        ),
        *(wrap(DynamoDBBackend, name, _atomic) for name in DYNAMODB_ITEM_OPERATIONS),
    ]
