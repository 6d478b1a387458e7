"""The callback pattern: send a task token to a queue and sleep until someone answers with it."""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .expressions import jsonata, literal
from .retry import TRANSIENT_SQS_ERRORS, RetryPolicy
from .validation import check_instance, check_interface, whole_seconds

#: Field of the message body that carries the task token, unless another is named.
TOKEN_FIELD: Final = "TaskToken"
#: Longest time a Standard execution (and so a callback) may last: one year.
_YEAR_SECONDS: Final = 365 * 24 * 3600
_OWNER: Final = "wait_for_callback"


def check_callback_timeouts(
    owner: str,
    timeout: Duration,
    heartbeat: Duration | None,
    *,
    names: tuple[str, str] = ("timeout", "heartbeat"),
    default_heartbeat: bool = False,
) -> None:
    """Raise unless a callback's timeout and heartbeat are whole seconds, heartbeat shorter.

    Parameters
    ----------
    owner
        The construct or function, for the message.
    timeout, heartbeat
        The durations; ``heartbeat`` may be None (none).
    names
        The props' names in ``owner``, for the message.
    default_heartbeat
        Whether ``heartbeat`` is ``owner``'s default rather than the caller's (the message
        says so).

    Raises
    ------
    TypeError, ValueError
        As ``validation.whole_seconds`` does, or if the heartbeat is not shorter.
    """
    timeout_name, heartbeat_name = names
    timeout_seconds = whole_seconds(owner, timeout_name, timeout, maximum=_YEAR_SECONDS)
    if heartbeat is None:
        return
    heartbeat_seconds = whole_seconds(owner, heartbeat_name, heartbeat)
    if heartbeat_seconds >= timeout_seconds:
        given = ", the default" if default_heartbeat else ""
        raise ValueError(
            f"{owner}: {heartbeat_name} ({heartbeat_seconds} s{given}) must be shorter than "
            f"{timeout_name} ({timeout_seconds} s), or the heartbeat could never fire first: "
            f"pass a shorter {heartbeat_name} or a longer {timeout_name}."
        )


def wait_for_callback(
    scope: Construct,
    id: str,
    *,
    queue: sqs.IQueue,
    message: str,
    timeout: Duration,
    heartbeat: Duration | None = None,
    token_field: str = TOKEN_FIELD,
    outputs: str | None = None,
    retry: RetryPolicy | None = None,
) -> tasks.SqsSendMessage:
    """A JSONata task that sends ``message`` with a task token to ``queue`` and waits.

    The execution sleeps (a Standard one costs nothing while it waits) until a worker answers
    with ``SendTaskSuccess`` (its output becomes the task's result), ``SendTaskFailure`` (the
    task fails with the worker's error and cause), or the time runs out: no answer within
    ``timeout``, or no ``SendTaskHeartbeat`` within ``heartbeat``, fails it with
    ``States.Timeout`` (a Catch or Retry on ``States.HeartbeatTimeout`` matches only the
    missed heartbeat). Sending the message retries SQS's transient
    errors; the waiting itself is never retried, so a rejection or a timeout reaches the
    task's Catch at once. Express workflows cannot wait for a callback: use it in Standard ones.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Construct id (the state's name).
    queue
        Where the message goes; the worker reads it there.
    message
        JSONata expression (without ``{% %}``) for the message: an object, to which the token
        is added under ``token_field``. Example: ``"{'OrderId': $states.input.OrderId}"``.
    timeout
        Longest wait for the answer, in whole seconds.
    heartbeat
        Longest silence between two heartbeats of the worker, shorter than ``timeout``.
        Default: none (only ``timeout`` applies).
    token_field
        Name of the body's field with the token. Default ``"TaskToken"``.
    outputs
        JSONata expression (without ``{% %}``) for the task's output. Default: the answer.
    retry
        Retry of the send on transient SQS errors. Default ``RetryPolicy()``.

    Returns
    -------
    aws_cdk.aws_stepfunctions_tasks.SqsSendMessage
        The task, to chain and to give a Catch.

    Raises
    ------
    TypeError
        If a prop has the wrong type.
    ValueError
        If a duration is not a whole number of seconds from 1 s (``timeout``: to a year),
        ``heartbeat`` is not shorter than ``timeout``, ``token_field`` is empty, or an
        expression comes with its ``{% %}`` delimiters.
    """
    check_interface(
        _OWNER,
        "queue",
        queue,
        members=("queue_url", "queue_arn"),
        expected="an aws_sqs.IQueue",
        fix="pass an aws_sqs.Queue",
    )
    for name, text in {"message": message, "token_field": token_field}.items():
        check_instance(_OWNER, name, text, str, "pass a string")
    check_instance(_OWNER, "outputs", outputs, str, "pass a JSONata expression or omit it")
    check_instance(_OWNER, "retry", retry, RetryPolicy, "pass a RetryPolicy or omit it")
    if not token_field:
        raise ValueError(f"{_OWNER}: token_field must not be empty: omit it for 'TaskToken'.")
    for name, text in {"message": message, "outputs": outputs or ""}.items():
        if text.lstrip().startswith("{%"):
            raise ValueError(
                f"{_OWNER}: {name} is a JSONata expression without its {{% %}} delimiters, "
                f"got {text!r}: drop the delimiters, the task adds them."
            )
    check_callback_timeouts(_OWNER, timeout, heartbeat)
    task = tasks.SqsSendMessage.jsonata(
        scope,
        id,
        queue=queue,
        message_body=sfn.TaskInput.from_text(
            jsonata(f"$merge([{message}, {{{literal(token_field)}: $states.context.Task.Token}}])")
        ),
        integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        task_timeout=sfn.Timeout.duration(timeout),
        heartbeat_timeout=sfn.Timeout.duration(heartbeat) if heartbeat is not None else None,
        outputs=jsonata(outputs) if outputs is not None else None,
    )
    (retry or RetryPolicy()).apply(task, TRANSIENT_SQS_ERRORS)
    return task
