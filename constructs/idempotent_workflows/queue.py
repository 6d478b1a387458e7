"""``IdempotentQueue``: the asynchronous style, an SQS queue that starts an idempotent workflow.

An EventBridge Pipe reads the queue and starts the workflow once per message. SQS and Pipes
deliver at least once: a message whose delivery times out or fails comes back, and the
workflow sees it again. Keyed on the message id (or a field of the body), the second
execution is a duplicate and the work runs once. There is no caller to answer: the result is
in the idempotency record (``executionresult``) and, for Express, in the execution logs when
they include execution data.

Nothing vanishes when the work fails. An Express workflow is started synchronously
(``REQUEST_RESPONSE``): a failed execution leaves the message in the queue, SQS delivers it
again, and after ``max_receive_count`` deliveries moves it to the dead-letter queue. A
Standard workflow can only be started asynchronously (``FIRE_AND_FORGET``: the message is
deleted once the execution starts), so it retries inside: the protocol runs in a Parallel
state that retries failures, and past them sends the message and the error to the
dead-letter queue, then fails with the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .errors import IdempotencyError
from .private.catch_all import catch_every_error
from .private.checks import check_duration, check_int, check_removal_policy
from .private.failure_path import failure_message, send_then_fail
from .private.jsonata_expressions import jsonata
from .private.nag import acknowledge
from .private.props import EXPRESS_MAX_SECONDS, QueueProps
from .protocol import IdempotencyProtocol
from .retry import TRANSIENT_SQS_ERRORS, RetryPolicy
from .table import IdempotencyTable
from .workflow import IdempotentWorkflow, ProtocolMetricsOfWorkflow, _WorkflowOfProps

#: What the pipe passes on of each SQS message: its id and its body (parsed when it is JSON).
#: Pipes hands a Step Functions target a JSON array of the batch (here, one message).
_PIPE_INPUT_TEMPLATE: Final = '{"messageId": <$.messageId>, "body": <$.body>}'
#: How long a message stays hidden while a synchronous pipe runs its Express execution: more
#: than the execution's 5 minutes, so that it never comes back while that execution runs.
SYNCHRONOUS_VISIBILITY: Final = Duration.seconds(EXPRESS_MAX_SECONDS + 30)
#: Errors that another attempt cannot cure: a Standard workflow sends them to the dead-letter
#: queue at once (an Express one is redelivered by SQS, whatever the error).
_PERMANENT_ERRORS: Final = (
    IdempotencyError.INVALID_KEY.value,
    IdempotencyError.PAYLOAD_MISMATCH.value,
    IdempotencyError.RESULT_TOO_LARGE.value,
)
#: The first wait before a Standard workflow runs a failed message again (then doubling, with
#: full jitter, at most five minutes apart), as SQS's default visibility timeout would.
_FIRST_RETRY_INTERVAL: Final = Duration.seconds(30)
#: Why the dead-letter queue's own cdk-nag finding is acknowledged (README, Security).
_FINDINGS_OF_A_DEAD_LETTER_QUEUE: Final = {
    "Serverless-SQSRedrivePolicy": (
        "This queue is another queue's dead-letter queue: messages land here after their "
        "last delivery, for people to inspect; a dead-letter queue of its own would only "
        "move them again."
    )
}


def queue_with_dead_letters(
    scope: Construct,
    id: str,
    dead_letters_id: str,
    *,
    max_receive_count: int = 5,
    visibility_timeout: Duration | None = None,
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
) -> tuple[sqs.Queue, sqs.Queue]:
    """An SQS queue and its dead-letter queue, both encrypted (SSE-SQS) and TLS only.

    A message goes to the dead-letter queue (kept 14 days) after ``max_receive_count``
    deliveries. The dead-letter queue's own cdk-nag finding (it has no dead-letter queue of
    its own: Serverless-SQSRedrivePolicy) is acknowledged.

    Parameters
    ----------
    scope
        Parent construct.
    id, dead_letters_id
        Construct ids of the queue and of its dead-letter queue.
    max_receive_count
        Deliveries before a message moves to the dead-letter queue. Default 5.
    visibility_timeout
        How long a received message stays hidden from other consumers. Default: SQS's
        (30 seconds).
    removal_policy
        Removal policy of both queues. Default ``RETAIN``.

    Returns
    -------
    tuple of aws_sqs.Queue
        The queue and its dead-letter queue.

    Raises
    ------
    TypeError, ValueError
        If ``max_receive_count`` is not a whole number from 1, ``visibility_timeout`` not a
        ``Duration``, or ``removal_policy`` not a ``RemovalPolicy``.
    """
    owner = "queue_with_dead_letters"
    check_int(owner, "max_receive_count", max_receive_count, minimum=1, example=5)
    check_duration(owner, "visibility_timeout", visibility_timeout)
    check_removal_policy(owner, removal_policy)
    dead_letters = sqs.Queue(
        scope,
        dead_letters_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        removal_policy=removal_policy,
    )
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=sqs.DeadLetterQueue(
            max_receive_count=max_receive_count, queue=dead_letters
        ),
        removal_policy=removal_policy,
    )
    acknowledge(dead_letters, _FINDINGS_OF_A_DEAD_LETTER_QUEUE)
    return queue, dead_letters


class IdempotentQueue(ProtocolMetricsOfWorkflow, Construct):
    """An SQS queue whose messages each start ``work`` in an ``IdempotentWorkflow``, once.

    Each message starts one execution with ``[{"messageId": ..., "body": ...}]`` as input
    (an EventBridge Pipe hands Step Functions a JSON array of its batch, here of one message;
    the body is parsed when it is JSON). The work reads ``$states.input[0].body``. A
    redelivered message is a duplicate of its first delivery; key on a body field instead
    (``key_fields=["body.orderId"]``) when producers may send the same request twice.

    A message whose work fails is tried again and, after ``max_receive_count`` tries, lands
    in the dead-letter queue. Express (the default): the pipe starts the execution
    synchronously and leaves a failed one's message in the queue, which SQS delivers again
    after the visibility timeout (330 s, longer than an Express execution) and moves as it is
    to the dead-letter queue after the last try; its error is in the record and the execution
    logs. Standard: the workflow retries the protocol itself (30 s, then doubling, at most
    5 minutes apart; a refused key, a payload mismatch and a result too large to store are
    not retried) and then sends ``{"message": <the message>, "Error": ..., "Cause": ...}`` to
    the dead-letter queue before failing with the error; this costs one more state (the
    ``Deliver`` Parallel) per execution.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Construct id.
    work
        The work, as for ``IdempotentWorkflow`` (JSONata states).
    key_fields
        Input fields that identify a duplicate. Default ``("messageId",)``.
    workflow_type
        Default ``StateMachineType.EXPRESS`` (short work, billed by duration).
    max_receive_count
        Tries of a message before it lands in the dead-letter queue (its deliveries for
        Express, the workflow's attempts for Standard). Default 5.
    table
        Passed to ``IdempotentWorkflow``.
    removal_policy
        Of the table, log groups and queues created here. Default ``RETAIN``.

    Attributes
    ----------
    queue, dead_letter_queue : aws_sqs.Queue
        The queue to send to, and where messages go after ``max_receive_count`` tries.
    workflow : IdempotentWorkflow
        The workflow the pipe starts.
    pipe : aws_pipes.CfnPipe
        The pipe from the queue to the workflow.

    Raises
    ------
    TypeError
        If a prop has the wrong type (the message names it and what to pass).
    ValueError
        If ``key_fields`` is empty or not field paths, ``max_receive_count`` is below 1, the
        work uses JSONPath, or the workflow cannot fit an Express execution.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        work: sfn.IChainable,
        key_fields: Sequence[str] = ("messageId",),
        workflow_type: sfn.StateMachineType = sfn.StateMachineType.EXPRESS,
        max_receive_count: int = 5,
        table: dynamodb.ITable | IdempotencyTable | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        props = QueueProps(
            work=work,
            key_fields=key_fields,
            workflow_type=workflow_type,
            max_receive_count=max_receive_count,
            table=table,
            removal_policy=removal_policy,
        )
        super().__init__(scope, id)
        synchronous = props.express
        self._max_receive_count = max_receive_count
        self.queue, self.dead_letter_queue = queue_with_dead_letters(
            self,
            "Queue",
            "DeadLetters",
            max_receive_count=max_receive_count,
            visibility_timeout=SYNCHRONOUS_VISIBILITY if synchronous else None,
            removal_policy=removal_policy,
        )
        self.workflow: IdempotentWorkflow = _WorkflowOfProps(
            self, "Workflow", props, around=None if synchronous else self._dead_letter_path
        )
        role = iam.Role(
            self,
            "PipeRole",
            assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"),
            description="Reads the queue and starts the idempotent workflow",
        )
        self.queue.grant_consume_messages(role)
        if synchronous:
            self.workflow.state_machine.grant_start_sync_execution(role)
        else:
            self.workflow.state_machine.grant_start_execution(role)
        self.pipe = pipes.CfnPipe(
            self,
            "Pipe",
            role_arn=role.role_arn,
            source=self.queue.queue_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(
                    batch_size=1
                )
            ),
            target=self.workflow.state_machine.state_machine_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                input_template=_PIPE_INPUT_TEMPLATE,
                step_function_state_machine_parameters=(
                    pipes.CfnPipe.PipeTargetStateMachineParametersProperty(
                        invocation_type="REQUEST_RESPONSE" if synchronous else "FIRE_AND_FORGET"
                    )
                ),
            ),
        )
        self.pipe.node.add_dependency(role)

    def _dead_letter_path(self, scope: Construct, protocol: IdempotencyProtocol) -> sfn.IChainable:
        """The protocol in a Parallel that retries it, then dead-letters the message (Standard).

        Built in the workflow's ``scope``.
        """
        deliver = sfn.Parallel.jsonata(scope, "Deliver", outputs=jsonata("$states.result[0]"))
        deliver.branch(protocol)
        # The first retrier that names an error decides: these are never tried again.
        deliver.add_retry(errors=list(_PERMANENT_ERRORS), max_attempts=0)
        deliver.add_retry(
            errors=["States.ALL"],
            max_attempts=self._max_receive_count - 1,
            interval=_FIRST_RETRY_INTERVAL,
            backoff_rate=2,
            max_delay=Duration.minutes(5),
            jitter_strategy=sfn.JitterType.FULL,
        )
        send = tasks.SqsSendMessage.jsonata(
            scope,
            "SendToDeadLetters",
            queue=self.dead_letter_queue,
            message_body=sfn.TaskInput.from_text(jsonata("$string($states.input)")),
            outputs=jsonata("$states.input"),
        )
        send_then_fail(scope, send, retry=RetryPolicy(), transient_errors=TRANSIENT_SQS_ERRORS)
        catch_every_error(deliver, send, outputs=failure_message("{'message': $states.input[0]}"))
        return deliver
