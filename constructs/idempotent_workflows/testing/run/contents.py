"""What tests read after running: the messages of a queue, the publications of a topic, items.

``receive`` takes the messages a state machine sent off a queue, as a worker would;
``published`` lists what a topic was sent (moto records every publication on its topic);
``table_items`` reads a whole table as plain Python values.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer

from ..moto_compat import topic_notifications

#: How often ``receive`` looks at a queue while it waits for messages.
_POLL_SECONDS: Final = 0.005
_DESERIALIZER: Final = TypeDeserializer()
#: Python's json recurses once per level and stops at the interpreter's recursion limit (1,000
#: frames by default), while API Gateway and Step Functions take JSON nested far deeper; the
#: engine (and moto in it) parses every body and input with json, so it raises the limit.
_JSON_DEPTH_FRAMES: Final = 10_000
sys.setrecursionlimit(max(sys.getrecursionlimit(), _JSON_DEPTH_FRAMES))


def _not_json(constant: str) -> Any:
    raise ValueError(f"Unrecognized token '{constant}': JSON has no {constant}")


def strict_json(text: str) -> Any:
    """Parse JSON as the services' parsers do, refusing ``NaN`` and ``Infinity``.

    Python's parser takes them; JSON has no such values.

    Raises
    ------
    ValueError
        If ``text`` is not JSON.
    """
    return json.loads(text, parse_constant=_not_json)


def parsed(text: str) -> Any:
    """A message as JSON when it is JSON, else the text itself."""
    try:
        return strict_json(text)
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
    return [parsed(message["Body"]) for message in messages]


def published(topic_arn: str, *, region: str, account: str) -> list[dict[str, Any]]:
    """What a topic was sent, oldest first, as moto recorded it.

    Returns
    -------
    list of dict
        ``MessageId``, ``Message`` (parsed from JSON when it is JSON), ``Subject`` (``None``
        when none was given) and ``MessageAttributes`` as a subscriber receives them
        (``{"name": {"Type": "String", "Value": "..."}}``).
    """
    return [
        {
            "MessageId": message_id,
            "Message": parsed(message),
            "Subject": subject,
            "MessageAttributes": message_attributes or {},
        }
        for message_id, message, subject, message_attributes, _group in topic_notifications(
            topic_arn, region=region, account=account
        )
    ]


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values (numbers as int or float)."""
    value = {key: _DESERIALIZER.deserialize(attr) for key, attr in item.items()}
    plain: dict[str, Any] = json.loads(
        json.dumps(value, default=lambda d: int(d) if d == int(d) else float(d))
    )
    return plain


def table_items(dynamodb: Any, table_name: str) -> list[dict[str, Any]]:
    """Every item of a table (a consistent scan), as plain Python values."""
    pages = dynamodb.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True)
    return [_plain(item) for page in pages for item in page["Items"]]
