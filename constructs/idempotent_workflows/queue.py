"""``IdempotentQueue``: the asynchronous style, an SQS queue that starts an idempotent workflow.

An EventBridge Pipe reads the queue and starts the workflow (``FIRE_AND_FORGET``, that is
``StartExecution``) once per message. SQS and Pipes deliver at least once: a message whose
delivery times out or fails comes back, and the workflow sees it again. Keyed on the message
id (or a field of the body), the second execution is a duplicate and the work runs once.
There is no caller to answer: the result is in the idempotency record (``executionresult``)
and, for Express, in the execution logs when they include execution data.
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
from constructs import Construct

from .private.checks import check_int, check_removal_policy
from .private.nag import acknowledge
from .private.props import QueueProps
from .table import IdempotencyTable
from .workflow import IdempotentWorkflow, ProtocolMetricsOfWorkflow, _WorkflowOfProps

#: What the pipe passes on of each SQS message: its id and its body (parsed when it is JSON).
#: Pipes hands a Step Functions target a JSON array of the batch (here, one message).
_PIPE_INPUT_TEMPLATE: Final = '{"messageId": <$.messageId>, "body": <$.body>}'
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
    removal_policy
        Removal policy of both queues. Default ``RETAIN``.

    Returns
    -------
    tuple of aws_sqs.Queue
        The queue and its dead-letter queue.

    Raises
    ------
    TypeError, ValueError
        If ``max_receive_count`` is not a whole number from 1, or ``removal_policy`` not a
        ``RemovalPolicy``.
    """
    owner = "queue_with_dead_letters"
    check_int(owner, "max_receive_count", max_receive_count, minimum=1, example=5)
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
        Deliveries of a message before it moves to the dead-letter queue. Default 5.
    table
        Passed to ``IdempotentWorkflow``.
    removal_policy
        Of the table, log groups and queues created here. Default ``RETAIN``.

    Attributes
    ----------
    queue, dead_letter_queue : aws_sqs.Queue
        The queue to send to, and where messages go after ``max_receive_count`` deliveries.
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
        self.workflow: IdempotentWorkflow = _WorkflowOfProps(self, "Workflow", props)
        self.queue, self.dead_letter_queue = queue_with_dead_letters(
            self,
            "Queue",
            "DeadLetters",
            max_receive_count=max_receive_count,
            removal_policy=removal_policy,
        )
        role = iam.Role(
            self,
            "PipeRole",
            assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"),
            description="Reads the queue and starts the idempotent workflow",
        )
        self.queue.grant_consume_messages(role)
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
                        invocation_type="FIRE_AND_FORGET"
                    )
                ),
            ),
        )
        self.pipe.node.add_dependency(role)
