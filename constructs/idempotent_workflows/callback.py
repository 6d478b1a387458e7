"""The callback pattern: send a task token to a queue and sleep until someone answers with it."""

from __future__ import annotations

from typing import Final

import jsii
from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IValidation

from .private.checks import check_instance, check_interface, seconds
from .private.enclosing_machine import MachineProbe
from .private.jsonata_expressions import jsonata, literal
from .retry import TRANSIENT_SQS_ERRORS, RetryPolicy

#: Longest time a Standard execution (and so a callback) may last: one year.
_YEAR_SECONDS: Final = 365 * 24 * 3600


def wait_for_callback(
    scope: Construct,
    id: str,
    *,
    queue: sqs.IQueue,
    message: str,
    timeout: Duration,
    heartbeat: Duration | None = None,
    token_field: str = "TaskToken",
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
    task's Catch at once. Express workflows cannot wait for a callback: use it in Standard ones
    (synthesis fails when the task is built into an Express state machine, which Step
    Functions would refuse only at deployment).

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
    owner = f"wait_for_callback({id!r})"
    check_interface(
        owner,
        "queue",
        queue,
        members=("queue_url", "queue_arn"),
        expected="an aws_sqs.IQueue",
        fix="pass an aws_sqs.Queue",
    )
    for name, text in {"message": message, "token_field": token_field}.items():
        check_instance(owner, name, text, str, "pass a string")
    check_instance(owner, "outputs", outputs, str, "pass a JSONata expression or omit it")
    check_instance(owner, "retry", retry, RetryPolicy, "pass a RetryPolicy or omit it")
    if not token_field:
        raise ValueError(f"{owner}: token_field must not be empty: omit it for 'TaskToken'.")
    for name, text in {"message": message, "outputs": outputs or ""}.items():
        if text.lstrip().startswith("{%"):
            raise ValueError(
                f"{owner}: {name} is a JSONata expression without its {{% %}} delimiters, "
                f"got {text!r}: drop the delimiters, the task adds them."
            )
    timeout_seconds = seconds(owner, "timeout", timeout, maximum=_YEAR_SECONDS)
    if heartbeat is not None:
        heartbeat_seconds = seconds(owner, "heartbeat", heartbeat)
        if heartbeat_seconds >= timeout_seconds:
            raise ValueError(
                f"{owner}: heartbeat ({heartbeat_seconds} s) must be shorter than timeout "
                f"({timeout_seconds} s), or the heartbeat could never fire first: pass a "
                "shorter heartbeat or a longer timeout."
            )
    task = _CallbackTask(
        scope,
        id,
        query_language=sfn.QueryLanguage.JSONATA,
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
    task.node.add_validation(_NotInExpress(task))
    return task


class _CallbackTask(MachineProbe, tasks.SqsSendMessage):
    """The ``waitForTaskToken`` task, which notes the state machine it is built into."""


@jsii.implements(IValidation)
class _NotInExpress:
    """Deferred check: an Express state machine cannot wait for a task token."""

    def __init__(self, task: _CallbackTask) -> None:
        self._task = task

    def validate(self) -> list[str]:
        """One error per Express state machine that holds the task."""
        return [
            f"wait_for_callback({self._task.state_id!r}): the state waits for a task token "
            f"(.waitForTaskToken), but it is in the EXPRESS state machine "
            f"'{machine.node.path}', which Step Functions refuses at deployment: build that "
            "state machine with state_machine_type=sfn.StateMachineType.STANDARD."
            for machine in self._task.machines
            if machine.state_machine_type == sfn.StateMachineType.EXPRESS
        ]
