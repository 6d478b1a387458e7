"""SQS queues and SNS topics on the local engine: deployed from a template, read by tests.

``deploy`` creates a template's ``AWS::SQS::Queue`` and ``AWS::SNS::Topic`` resources in moto
with the properties that change what they do locally (FIFO, delays, visibility, dead-letter
queues). Encryption settings (``KmsMasterKeyId``, ``SqsManagedSseEnabled``) are left out:
nothing is encrypted locally, and the key a property names is not deployed. ``receive`` takes
the messages a state machine sent off a queue; ``published`` lists what a topic was sent
(moto records every publication on its topic). ``sqs_error`` names a failed SQS call as Step
Functions names it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from unittest import mock

from botocore.exceptions import ClientError
from moto.sns.models import sns_backends
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs import (  # noqa: E501
    StateTaskServiceSqs,
)

from .template import Environment, resolve

QUEUE: Final = "AWS::SQS::Queue"
TOPIC: Final = "AWS::SNS::Topic"
#: Queue properties that change what a local queue does (CreateQueue attributes of the same name).
_QUEUE_ATTRIBUTES: Final = (
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)
_TOPIC_ATTRIBUTES: Final = ("ContentBasedDeduplication", "DisplayName", "FifoTopic")
#: How often ``receive`` looks at a queue while it waits for messages.
_POLL_SECONDS: Final = 0.005


def physical_name(kind: str, name: str, properties: Mapping[str, Any]) -> str:
    """The name CloudFormation would give: FIFO queues and topics end in ``.fifo``."""
    fifo = properties.get("FifoQueue" if kind == QUEUE else "FifoTopic") is True
    return f"{name}.fifo" if kind in (QUEUE, TOPIC) and fifo else name


def ref(kind: str, name: str, arn: str, *, region: str, account: str) -> str | None:
    """``Ref`` of a queue (its URL) or a topic (its ARN); ``None`` for other resources."""
    if kind == QUEUE:
        return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
    return arn if kind == TOPIC else None


def attributes(kind: str, ref: str, arn: str) -> dict[str, str]:
    """The ``Fn::GetAtt`` attributes of a queue or a topic besides ``Arn``."""
    name = arn.rsplit(":", 1)[-1]
    if kind == QUEUE:
        return {"QueueName": name, "QueueUrl": ref}
    return {"TopicName": name, "TopicArn": ref} if kind == TOPIC else {}


def _as_text(value: Any) -> str:
    """A CloudFormation property as an SQS or SNS attribute value (``True`` is ``"true"``)."""
    return json.dumps(value) if isinstance(value, bool | dict) else str(value)


def _chosen(properties: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: _as_text(properties[name]) for name in names if name in properties}


def deploy(
    resources: Mapping[str, Mapping[str, Any]], env: Environment, sqs: Any, sns: Any
) -> tuple[dict[str, str], dict[str, str]]:
    """Create the queues and topics of a template's resources in moto.

    Returns
    -------
    tuple of dict
        The URL of each queue and the ARN of each topic, by logical id.
    """
    queues: dict[str, str] = {}
    topics: dict[str, str] = {}
    redrives: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] not in (QUEUE, TOPIC):
            continue
        properties = resolve(resource.get("Properties", {}), env)
        if resource["Type"] == QUEUE:
            queues[logical_id] = sqs.create_queue(
                QueueName=env.get_att(logical_id, "QueueName"),
                Attributes=_chosen(properties, _QUEUE_ATTRIBUTES),
            )["QueueUrl"]
            if "RedrivePolicy" in properties:
                redrives[logical_id] = properties["RedrivePolicy"]
        else:
            topics[logical_id] = sns.create_topic(
                Name=env.get_att(logical_id, "TopicName"),
                Attributes=_chosen(properties, _TOPIC_ATTRIBUTES),
            )["TopicArn"]
    # Once every queue exists: a dead-letter queue may come after its source in the template.
    for logical_id, policy in redrives.items():
        sqs.set_queue_attributes(
            QueueUrl=queues[logical_id], Attributes={"RedrivePolicy": _as_text(policy)}
        )
    return queues, topics


def _parsed(text: str) -> Any:
    """A message as JSON when it is JSON, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def receive(sqs: Any, queue_url: str, timeout: float) -> list[Any]:
    """Take the messages off a queue: wait up to ``timeout`` seconds for at least one.

    Returns
    -------
    list
        The bodies of up to 10 messages, each parsed from JSON when it is JSON; empty if none
        arrived in time. The messages are deleted from the queue.
    """
    deadline = time.monotonic() + timeout
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if messages or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_SECONDS)
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [_parsed(message["Body"]) for message in messages]


def published(topic_arn: str, *, region: str, account: str) -> list[dict[str, Any]]:
    """What a topic was sent, oldest first, as moto recorded it.

    Returns
    -------
    list of dict
        ``MessageId``, ``Message`` (parsed from JSON when it is JSON), ``Subject`` (``None``
        when none was given) and ``MessageAttributes`` as a subscriber receives them
        (``{"name": {"Type": "String", "Value": "..."}}``).
    """
    topic = sns_backends[account][region].topics[topic_arn]
    return [
        {
            "MessageId": message_id,
            "Message": _parsed(message),
            "Subject": subject,
            "MessageAttributes": message_attributes or {},
        }
        for message_id, message, subject, message_attributes, _group in topic.sent_notifications
    ]


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
    """The ``unittest.mock`` patcher of ``sqs_error_names``, wrapping the current method."""
    return mock.patch.object(
        StateTaskServiceSqs, "_from_error", sqs_error_names(StateTaskServiceSqs._from_error)
    )
