"""EventBridge Pipes from an SQS queue to a state machine, run as Pipes runs them.

moto knows pipes as configuration only. A deployed ``AWS::Pipes::Pipe`` whose source is an
SQS queue and whose target is a state machine is run here by a ``PipeRunner`` while the engine
is open: it receives the queue's messages (``BatchSize`` at a time), hands the target the batch
as a JSON array (each message as the SQS record Pipes makes of it, or rendered through the
``InputTemplate``), and settles each message as Pipes does:

- ``REQUEST_RESPONSE`` (``StartSyncExecution``, Express only): the message is deleted when the
  execution succeeds; when it fails or times out, the message stays in the queue, and SQS
  delivers it again after its visibility timeout, and past the queue's ``maxReceiveCount``
  moves it to the dead-letter queue (moto's SQS does that on receive).
- ``FIRE_AND_FORGET`` (``StartExecution``): the message is deleted once the execution has
  started, whatever becomes of it; only a refused start leaves it in the queue.

The visibility timeout of a message left in the queue is scaled like Wait states (whole
seconds, rounded down: 0 with the default ``wait_scale``). Not reproduced: filters,
enrichment, batching windows, several pollers per pipe (one message is handled at a time),
partial batch failures (``batchItemFailures``), the pipe's own dead-letter and retry settings,
its state (``DesiredState``), IAM, and the 5-minute limit of a pipe execution.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from .contents import strict_json

#: How long a runner waits before looking at an empty queue again (seconds).
_IDLE_SECONDS: Final = 0.01
#: A placeholder of an input template: ``<$.messageId>``, ``<$.body.orderId>``.
_PLACEHOLDER: Final = re.compile(r"<\$((?:\.[A-Za-z0-9_-]+)*)>")


@dataclass(frozen=True)
class PipeDefinition:
    """A deployed pipe from an SQS queue to a state machine.

    Attributes
    ----------
    name
        The pipe's physical name.
    queue_url, queue_arn
        The source queue.
    state_machine_arn
        The target.
    input_template
        The target's ``InputTemplate``, or None (the records are handed over as they are).
    synchronous
        ``InvocationType`` ``REQUEST_RESPONSE`` (the default of Pipes), else
        ``FIRE_AND_FORGET``.
    batch_size
        Messages per batch (``SqsQueueParameters.BatchSize``, default 10).
    """

    name: str
    queue_url: str
    queue_arn: str
    state_machine_arn: str
    input_template: str | None
    synchronous: bool
    batch_size: int

    @classmethod
    def from_properties(
        cls, name: str, properties: Mapping[str, Any], queues_by_arn: Mapping[str, str]
    ) -> PipeDefinition:
        """A pipe from its resolved CloudFormation properties.

        Raises
        ------
        NotImplementedError
            If its source is not a queue of the stack or its target not a state machine.
        """
        source, target = properties["Source"], properties["Target"]
        if source not in queues_by_arn or ":states:" not in target:
            raise NotImplementedError(
                f"Pipe {name}: the local engine runs pipes from an SQS queue of the stack to a "
                f"state machine, got {source} -> {target}"
            )
        parameters = properties.get("TargetParameters", {})
        machine = parameters.get("StepFunctionStateMachineParameters", {})
        sqs_parameters = properties.get("SourceParameters", {}).get("SqsQueueParameters", {})
        return cls(
            name=name,
            queue_url=queues_by_arn[source],
            queue_arn=source,
            state_machine_arn=target,
            input_template=parameters.get("InputTemplate"),
            synchronous=machine.get("InvocationType", "REQUEST_RESPONSE") == "REQUEST_RESPONSE",
            batch_size=int(sqs_parameters.get("BatchSize", 10)),
        )


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """The record Pipes makes of a received SQS message (the event of an SQS source)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def _selected(record: Mapping[str, Any], path: str) -> Any:
    """What ``$.a.b`` selects in a record; a body that is JSON is read as its value."""
    value: Any = record
    for name in filter(None, path.split(".")):
        if name == "body" and value is record:
            value = _json_or_text(record["body"])
        else:
            value = value.get(name) if isinstance(value, dict) else None
    return value


def _json_or_text(text: str) -> Any:
    try:
        return strict_json(text)
    except ValueError:
        return text


def render_input_template(template: str, record: Mapping[str, Any]) -> Any:
    """The target's input for one record: the template, its placeholders replaced.

    A placeholder outside a JSON string becomes the JSON of its value (a body that is JSON
    stays JSON; text is quoted); inside a string, it becomes the value's text there.
    """
    out, inside, position = [], False, 0
    while position < len(template):
        char = template[position]
        placeholder = _PLACEHOLDER.match(template, position) if char == "<" else None
        if placeholder is not None:
            value = _selected(record, placeholder.group(1))
            if inside:
                shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                out.append(json.dumps(shown, ensure_ascii=False)[1:-1])
            else:
                out.append(json.dumps(value, ensure_ascii=False))
            position = placeholder.end()
            continue
        if char == "\\" and inside:
            out.append(template[position : position + 2])
            position += 2
            continue
        inside = inside != (char == '"')
        out.append(char)
        position += 1
    return json.loads("".join(out))


class PipeRunner:
    """Runs one pipe in a thread of its own, from ``start`` until ``stop``.

    Parameters
    ----------
    pipe
        The pipe.
    sfn, sqs
        Clients of the engine.
    wait_scale
        Returns the factor applied to the visibility timeout of a message left in the queue.
    """

    def __init__(
        self, pipe: PipeDefinition, sfn: Any, sqs: Any, wait_scale: Callable[[], float]
    ) -> None:
        self.pipe = pipe
        self._sfn, self._sqs = sfn, sqs
        self._wait_scale = wait_scale
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pipe-{pipe.name}", daemon=True)
        self._failure: BaseException | None = None
        visibility = sqs.get_queue_attributes(
            QueueUrl=pipe.queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]["VisibilityTimeout"]
        self._visibility = int(visibility)

    def start(self) -> None:
        """Start polling the queue."""
        self._thread.start()

    def stop_polling(self) -> None:
        """Receive no more messages; the batch in hand is still settled."""
        self._stopping.set()

    def join(self, timeout: float) -> None:
        """Wait for the runner's end; raise what stopped it, if anything did.

        Raises
        ------
        RuntimeError
            If the runner failed (its own error is the cause).
        """
        self._stopping.set()
        self._thread.join(timeout)
        if self._failure is not None:
            raise RuntimeError(f"Pipe {self.pipe.name} failed") from self._failure

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if not self.deliver_next():
                    self._stopping.wait(_IDLE_SECONDS)
        except BaseException as error:  # kept, and raised by join(): never lost in a thread
            self._failure = error

    def deliver_next(self) -> bool:
        """Receive one batch and hand it to the target; False if the queue had none."""
        messages = self._sqs.receive_message(
            QueueUrl=self.pipe.queue_url,
            MaxNumberOfMessages=self.pipe.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return False
        records = [sqs_record(message, self.pipe.queue_arn) for message in messages]
        template = self.pipe.input_template
        batch = [
            record if template is None else render_input_template(template, record)
            for record in records
        ]
        if self._invoke(json.dumps(batch, ensure_ascii=False)):
            for message in messages:
                self._sqs.delete_message(
                    QueueUrl=self.pipe.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        else:
            hidden = int(self._visibility * self._wait_scale())
            for message in messages:
                self._sqs.change_message_visibility(
                    QueueUrl=self.pipe.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=hidden,
                )
        return True

    def _invoke(self, execution_input: str) -> bool:
        """Start the target; whether the batch is done with (Pipes deletes it then)."""
        request = {"stateMachineArn": self.pipe.state_machine_arn, "input": execution_input}
        try:
            if self.pipe.synchronous:
                answer = self._sfn.start_sync_execution(**request)
                return bool(answer["status"] == "SUCCEEDED")
            self._sfn.start_execution(**request)
        except ClientError:
            return False
        return True
