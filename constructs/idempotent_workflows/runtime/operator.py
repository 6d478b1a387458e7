"""The operator's view of a key: show a record, release a stuck lock without a blind delete.

``IdempotencyRecords`` reads and writes one workflow's records through any boto3 DynamoDB
client (AWS, the local engine's, MiniStack's). Release is one conditional ``UpdateItem``: it
marks the record FAILED (what the protocol already reads as "run the work again") only while
its status, holder and lease are still the ones shown. A holder that stored its result in the
meantime makes the condition fail, and nothing is written. The record keeps its payload
fingerprint, attempts and expiry; a holder that was alive after all then fails its own store
with ``Idempotency.LockLost`` and overwrites nothing.

Standard library only: the caller passes the boto3 clients (the console script makes them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from .description import WorkflowDescription
from .records import (
    ATTEMPTS_ATTRIBUTE,
    EXECUTION_ATTRIBUTE,
    KEY_ATTRIBUTE,
    LEASE_ATTRIBUTE,
    RESULT_ATTRIBUTE,
    STATUS_ATTRIBUTE,
    TTL_ATTRIBUTE,
    RecordStatus,
)

#: The error a released record holds: the next request with its key runs the work again.
RELEASED_ERROR: Final = "Idempotency.Released"


class _DynamoDBClient(Protocol):
    """The two calls the operator's view makes (a boto3 ``dynamodb`` client has them)."""

    def get_item(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def update_item(self, **kwargs: Any) -> Mapping[str, Any]: ...


class RecordChanged(Exception):
    """The record is no longer the one shown: nothing was written."""


class NotStuck(Exception):
    """The record holds no lock (it is SUCCEEDED or FAILED): there is nothing to release."""


def _plain(attribute: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value as Python reads it (strings and numbers; else as is)."""
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute:
        number = float(attribute["N"])
        return int(number) if number.is_integer() else number
    return attribute


def _when(epoch: int | None, now: float) -> str:
    if epoch is None:
        return "-"
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
    seconds = int(epoch - now)
    return f"{stamp} (in {seconds} s)" if seconds >= 0 else f"{stamp} ({-seconds} s ago)"


@dataclass(frozen=True)
class KeyRecord:
    """One idempotency record, as an operator reads it.

    Attributes
    ----------
    key
        The record id (``<namespace>#<sha256>``).
    status
        ``IN_PROGRESS``, ``SUCCEEDED`` or ``FAILED``.
    holder
        The execution that holds (IN_PROGRESS) or held the lock.
    lease_expiry
        Until when an IN_PROGRESS lock is honoured (epoch seconds); ``None`` otherwise.
    attempts
        How many times the lock was taken for the key; ``None`` for a record written before
        the protocol counted them.
    result_bytes
        UTF-8 size of the stored result (SUCCEEDED) or error (FAILED); ``None`` without one.
    expiry
        When the record stops being honoured (its ``ttl``, epoch seconds).
    item
        The item as DynamoDB returned it.
    """

    key: str
    status: str
    holder: str | None
    lease_expiry: int | None
    attempts: int | None
    result_bytes: int | None
    expiry: int | None
    item: Mapping[str, Any]

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> KeyRecord:
        """Read a record from its DynamoDB item (``GetItem``'s ``Item``)."""
        plain = {name: _plain(value) for name, value in item.items()}
        result = plain.get(RESULT_ATTRIBUTE)
        return cls(
            key=str(plain[KEY_ATTRIBUTE]),
            status=str(plain.get(STATUS_ATTRIBUTE)),
            holder=plain.get(EXECUTION_ATTRIBUTE),
            lease_expiry=plain.get(LEASE_ATTRIBUTE),
            attempts=plain.get(ATTEMPTS_ATTRIBUTE),
            result_bytes=len(result.encode()) if isinstance(result, str) else None,
            expiry=plain.get(TTL_ATTRIBUTE),
            item=item,
        )

    @property
    def stuck(self) -> bool:
        """Whether it holds a lock (IN_PROGRESS), which only a release or its lease ends."""
        return self.status == RecordStatus.IN_PROGRESS

    def to_json(self) -> dict[str, Any]:
        """The fields above, without ``item``, as JSON values."""
        return {
            "key": self.key,
            "status": self.status,
            "holder": self.holder,
            "leaseExpiry": self.lease_expiry,
            "attempts": self.attempts,
            "resultBytes": self.result_bytes,
            "expiry": self.expiry,
        }

    def describe(self, now: float | None = None) -> str:
        """The record as lines of text, times in UTC and relative to ``now``."""
        now = time.time() if now is None else now
        rows = [
            ("key", self.key),
            ("status", self.status),
            ("holder", self.holder or "-"),
            ("lease ends", _when(self.lease_expiry, now)),
            ("attempts", "-" if self.attempts is None else str(self.attempts)),
            ("result", "-" if self.result_bytes is None else f"{self.result_bytes} bytes"),
            ("expires", _when(self.expiry, now)),
        ]
        return "\n".join(f"{name:<11} {value}" for name, value in rows)


class IdempotencyRecords:
    """The records of one table (and, given a workflow's description, of its inputs).

    Parameters
    ----------
    dynamodb
        A boto3 DynamoDB client allowed ``GetItem`` and ``UpdateItem`` on the table.
    table_name
        The table of the records.
    workflow
        The workflow whose keys ``record_id`` computes (``WorkflowDescription``). Default:
        none, and keys are given as record ids.

    Examples
    --------
    >>> (payments,) = WorkflowDescription.describe(arn, stepfunctions)      # doctest: +SKIP
    >>> records = IdempotencyRecords.of(payments, dynamodb)                  # doctest: +SKIP
    >>> shown = records.show(records.record_id({"orderId": "o-1"}))          # doctest: +SKIP
    >>> records.release(shown, reason="holder crashed, INC-42")              # doctest: +SKIP
    """

    def __init__(
        self,
        dynamodb: _DynamoDBClient,
        table_name: str,
        *,
        workflow: WorkflowDescription | None = None,
    ) -> None:
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.workflow = workflow

    @classmethod
    def of(cls, workflow: WorkflowDescription, dynamodb: _DynamoDBClient) -> IdempotencyRecords:
        """The records of a described workflow, in the table its definition names."""
        return cls(dynamodb, workflow.table_name, workflow=workflow)

    def record_id(self, execution_input: Any) -> str:
        """The id of the record that the workflow writes for ``execution_input``.

        Raises
        ------
        ValueError
            If these records were made without a workflow description.
        InvalidKeyError
            If the workflow would refuse the input with ``Idempotency.InvalidKey``.
        """
        if self.workflow is None:
            raise ValueError(
                f"The records of table {self.table_name} were opened without a workflow, so "
                "the key of an input is unknown: open them with IdempotencyRecords.of("
                "WorkflowDescription...), or give the record id."
            )
        return self.workflow.record_id(execution_input)

    def show(self, key: str) -> KeyRecord | None:
        """The record of ``key`` (a strongly consistent read); ``None`` if there is none."""
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key={KEY_ATTRIBUTE: {"S": key}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else KeyRecord.from_item(item)

    def release(self, shown: KeyRecord, *, reason: str) -> KeyRecord:
        """Release the lock of a stuck record, only if it is still exactly the one shown.

        Marks it FAILED with the error ``Idempotency.Released`` (its cause names ``reason``
        and the time) and removes the lease, in one ``UpdateItem`` conditioned on the status,
        holder and lease of ``shown``. The next request with the key runs the work.

        Parameters
        ----------
        shown
            The record as ``show`` returned it, which the operator decided to release.
        reason
            Why, for the record (an incident id, for example).

        Returns
        -------
        KeyRecord
            The record as released.

        Raises
        ------
        NotStuck
            If ``shown`` holds no lock; nothing is written.
        RecordChanged
            If the record changed since it was shown (its holder stored a result, another
            execution took it over, it expired); nothing is written.
        """
        if not shown.stuck or shown.holder is None or shown.lease_expiry is None:
            raise NotStuck(
                f"{shown.key} is {shown.status}, not {RecordStatus.IN_PROGRESS.value}: it holds "
                "no lock, so there is nothing to release."
            )
        cause = f"Released by an operator at {datetime.now(UTC).isoformat(timespec='seconds')}"
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": shown.key}},
                UpdateExpression="SET #status = :failed, #result = :result REMOVE #lease",
                ConditionExpression=(
                    "#status = :in_progress AND #execution = :holder AND #lease = :lease"
                ),
                ExpressionAttributeNames={
                    "#status": STATUS_ATTRIBUTE,
                    "#result": RESULT_ATTRIBUTE,
                    "#execution": EXECUTION_ATTRIBUTE,
                    "#lease": LEASE_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":failed": {"S": RecordStatus.FAILED.value},
                    ":in_progress": {"S": RecordStatus.IN_PROGRESS.value},
                    ":holder": {"S": shown.holder},
                    ":lease": {"N": str(shown.lease_expiry)},
                    ":result": {
                        "S": json.dumps({"Error": RELEASED_ERROR, "Cause": f"{cause}: {reason}"})
                    },
                },
                ReturnValues="ALL_NEW",
            )
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code != "ConditionalCheckFailedException":
                raise
            now = self.show(shown.key)
            state = "gone" if now is None else f"{now.status}, held by {now.holder}"
            raise RecordChanged(
                f"{shown.key} changed since it was shown (now {state}): nothing was released. "
                "Show it again and decide on what it holds now."
            ) from None
        return KeyRecord.from_item(answer["Attributes"])
