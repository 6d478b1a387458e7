"""A warehouse simulator: the external system that the order flow waits for.

It reads the warehouse queue, takes its time, and answers each order with the message's task
token: ``SendTaskSuccess`` with a shipment, ``SendTaskFailure`` for a rejection, or nothing at
all (the flow then times out). It talks to SQS and Step Functions through boto3 clients, so it
serves the local engine and a deployed stack (MiniStack) alike.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from botocore.exceptions import ClientError

from .order_flow import TOKEN_FIELD

#: Error name of a rejected order, as the flow's Catch and the notification see it.
REJECTED_ERROR: Final = "Warehouse.Rejected"
#: Pause between two reads of an empty queue (short polls: the simulator stops promptly).
_POLL_SECONDS: Final = 0.02


class Answer(Enum):
    """What the warehouse does with an order."""

    SHIP = "ship"
    """Heartbeat, then ``SendTaskSuccess`` with ``{"ShipmentId", "OrderId"}``."""
    REJECT = "reject"
    """``SendTaskFailure`` with ``Warehouse.Rejected``."""
    IGNORE = "ignore"
    """No answer, no heartbeat: the flow's heartbeat timeout fires."""
    STALL = "stall"
    """Heartbeats every ``delay`` but never answers: the flow's task timeout fires."""


@dataclass
class WarehouseSimulator:
    """Answers the order flow's warehouse messages from a background thread.

    Use it as a context manager around the executions it should serve.

    Parameters
    ----------
    sqs, stepfunctions
        boto3 clients of the SQS and Step Functions the flow runs on.
    queue_url
        The warehouse queue.
    answers
        Answer per ``OrderId``; others get ``default``.
    default
        Answer to orders not in ``answers``. Default ``Answer.SHIP``.
    delay
        Seconds the warehouse takes before it answers. Default 0.05.

    Attributes
    ----------
    answered : dict of str to Answer
        What it did with each order it read, by ``OrderId``.
    received : list of dict
        Every message it read, in order (without the task token): what the warehouse saw.
    problems : list of str
        Messages it could not serve (no ``OrderId`` or token, or an answer Step Functions
        refused, such as a token whose task timed out meanwhile); it goes on with the next.
    """

    sqs: Any
    stepfunctions: Any
    queue_url: str
    answers: Mapping[str, Answer] = field(default_factory=dict)
    default: Answer = Answer.SHIP
    delay: float = 0.05
    answered: dict[str, Answer] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def __enter__(self) -> WarehouseSimulator:
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="warehouse", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _serve(self) -> None:
        while not self._stop.is_set():
            reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not reply.get("Messages"):
                self._stop.wait(_POLL_SECONDS)
            for message in reply.get("Messages", []):
                try:
                    self._answer(json.loads(message["Body"]))
                except (ClientError, KeyError, TypeError, ValueError) as problem:
                    self.problems.append(f"{message['MessageId']}: {problem!r}")
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def _answer(self, order: dict[str, Any]) -> None:
        order_id, token = order["OrderId"], order[TOKEN_FIELD]
        self.received.append({k: v for k, v in order.items() if k != TOKEN_FIELD})
        answer = self.answers.get(order_id, self.default)
        self.answered[order_id] = answer
        if answer is Answer.IGNORE:
            return
        if answer is Answer.STALL:
            threading.Thread(target=self._beat, args=(token,), daemon=True).start()
            return
        self.stepfunctions.send_task_heartbeat(taskToken=token)
        self._stop.wait(self.delay)
        if answer is Answer.SHIP:
            shipment = {"ShipmentId": str(uuid.uuid4()), "OrderId": order_id}
            self.stepfunctions.send_task_success(taskToken=token, output=json.dumps(shipment))
        else:
            items = len(order.get("Reservations", []))
            self.stepfunctions.send_task_failure(
                taskToken=token,
                error=REJECTED_ERROR,
                cause=f"The warehouse cannot ship order {order_id} ({items} line items).",
            )

    def _beat(self, token: str) -> None:
        """Heartbeat until the task is over (Step Functions then refuses the token)."""
        while not self._stop.wait(self.delay):
            try:
                self.stepfunctions.send_task_heartbeat(taskToken=token)
            except ClientError:
                return
