"""``IdempotencyProtocol``: the idempotency protocol as a fragment wrapped around any work."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from . import record as r
from .expressions import (
    NOW,
    cause_of,
    fingerprint,
    idempotency_key,
    jsonata,
    literal,
    seconds_from_now,
    to_json,
)
from .jsonata_work import JsonataWork
from .key import IdempotencyKey, field_selection
from .props import as_table, check_protocol_props
from .retry import CATCH_ALL, RetryPolicy
from .states import ProtocolState as S
from .table import IdempotencyTable

# Workflow variables, prefixed so they do not clash with the variables of the wrapped work.
KEY_VARIABLE: Final = "idemKey"
RECORD_VARIABLE: Final = "idemRecord"
POLLS_VARIABLE: Final = "idemPolls"
ERROR_VARIABLE: Final = "idemError"
PAYLOAD_VARIABLE: Final = "idemPayload"

#: Longest run of an Express execution, in seconds.
EXPRESS_MAX_SECONDS: Final = 300
#: Default lease: Standard executions may run long; Express ones end within five minutes.
DEFAULT_LEASE: Final[Mapping[sfn.StateMachineType, Duration]] = {
    sfn.StateMachineType.STANDARD: Duration.minutes(15),
    sfn.StateMachineType.EXPRESS: Duration.minutes(4),
}

_CONDITIONAL_CHECK_FAILED: Final = "DynamoDB.ConditionalCheckFailedException"
_OWNER: Final = "IdempotencyProtocol"


def max_polls_within(seconds: int, poll_interval_seconds: int, retry: RetryPolicy) -> int:
    """The most polls a waiter can make within ``seconds``, its retries' longest waits included.

    A waiter's worst case: the first acquire and a last re-acquire, every read, each with its
    retries' longest waits, and ``max_polls`` poll intervals. Zero or less: none fits.
    """
    worst = retry.worst_case_seconds
    return (seconds - 2 * worst) // (poll_interval_seconds + worst)


def _positive_seconds(name: str, value: Duration) -> int:
    seconds = value.to_seconds()
    if seconds <= 0:
        raise ValueError(
            f"{name} must be a positive duration, got {seconds} s: "
            f"pass for example {name}=Duration.seconds(10)."
        )
    return int(seconds)


class IdempotencyProtocol(sfn.StateMachineFragment):
    """State machine fragment that runs ``work`` at most once per idempotency key.

    One conditional write takes the lock; the work runs inside a Parallel state; its result
    (or error) is stored under the key. Executions that find the key taken return the stored
    result, wait for the holder (polling), or take over a failed or expired record. Use it
    directly to embed the protocol in a larger state machine (a JSONata one), or through
    ``IdempotentWorkflow``, which builds the whole state machine around it. docs/protocol.md
    describes the states, the record and the failure modes.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Construct id.
    work
        The work to protect: any chainable of JSONata states (the ``.jsonata()`` factories),
        run as the only branch of a Parallel state. Its output is the fragment's output; its
        error ends the execution with the same name.
    table
        Table for the records: an ``IdempotencyTable`` or any ``ITable`` with partition key
        ``id`` (string) and TTL attribute ``ttl``.
    key
        What identifies a duplicate. Default ``IdempotencyKey.whole_input()``.
    key_namespace
        Prefix of every key, keeping workflows that share a table apart. Default: the
        construct path of this fragment.
    record_ttl
        How long a record is honoured after it was written; DynamoDB TTL removes it later.
        Default 24 hours. Must exceed ``lease``.
    lease
        How long a lock is honoured while its holder runs the work; after it, another
        execution takes over. Set it above the work's longest run. Default 15 minutes for
        Standard, 4 minutes for Express.
    poll_interval
        Wait between two reads of a record held by another execution. Default 10 seconds.
    max_polls
        Polls before a waiter gives up with ``Idempotency.LockWaitTimeout``. Default: enough
        polls to cover the lease.
    workflow_type
        The type of the state machine the fragment runs in. Default
        ``StateMachineType.STANDARD``. With ``EXPRESS``, a lease or a poll bound that cannot
        end within an Express execution's 5 minutes (worst-case retries included) is
        rejected, and ``max_polls`` defaults to the most polls that fit.
    dynamodb_retry
        How every DynamoDB call of the protocol retries throttling and server errors.
        Default ``RetryPolicy()``: 3 retries, exponential backoff from 1 s, full jitter, at
        most 4 s apart. ``RetryPolicy.off()`` turns retries off.
    payload_fields
        Input fields that must match for an execution to be a duplicate (opt-in payload
        validation). The first execution stores their fingerprint (a SHA-256) in the record;
        a later one with the same key but other values ends with
        ``Idempotency.PayloadMismatch`` without running the work or touching the record.
        Default: none.

    Raises
    ------
    TypeError
        If a prop has the wrong type (the message names the prop and what to pass).
    ValueError
        If a value is out of range, the work uses JSONPath, or the configuration cannot fit
        an Express execution.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        work: sfn.IChainable,
        table: dynamodb.ITable | IdempotencyTable,
        key: IdempotencyKey | None = None,
        key_namespace: str | None = None,
        record_ttl: Duration | None = None,
        lease: Duration | None = None,
        poll_interval: Duration | None = None,
        max_polls: int | None = None,
        workflow_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD,
        dynamodb_retry: RetryPolicy | None = None,
        payload_fields: Sequence[str] = (),
    ) -> None:
        check_protocol_props(
            _OWNER,
            work=work,
            key=key,
            key_namespace=key_namespace,
            durations={"record_ttl": record_ttl, "lease": lease, "poll_interval": poll_interval},
            max_polls=max_polls,
            workflow_type=workflow_type,
            dynamodb_retry=dynamodb_retry,
            payload_fields=payload_fields,
        )
        self.table = as_table(_OWNER, table)
        super().__init__(scope, id)
        self.key = key or IdempotencyKey.whole_input()
        self.workflow_type = workflow_type
        self.retry = dynamodb_retry or RetryPolicy()
        self.payload_fields = tuple(payload_fields)
        self.record_ttl_seconds = _positive_seconds("record_ttl", record_ttl or Duration.hours(24))
        self.lease_seconds = _positive_seconds("lease", lease or DEFAULT_LEASE[workflow_type])
        self.poll_interval_seconds = _positive_seconds(
            "poll_interval", poll_interval or Duration.seconds(10)
        )
        express = workflow_type == sfn.StateMachineType.EXPRESS
        if max_polls is None:
            max_polls = math.ceil(self.lease_seconds / self.poll_interval_seconds)
            if express:
                max_polls = min(max_polls, self._express_max_polls())
        if max_polls < 1:
            raise ValueError(f"max_polls must be a positive whole number, got {max_polls!r}.")
        self.max_polls = max_polls
        if self.record_ttl_seconds <= self.lease_seconds:
            raise ValueError(
                f"record_ttl ({self.record_ttl_seconds} s) must be longer than lease "
                f"({self.lease_seconds} s): a record must outlive the lock it carries."
            )
        if express:
            self._check_fits_express()
        self.key_namespace = key_namespace if key_namespace is not None else self.node.path
        if not self.key_namespace:
            raise ValueError("key_namespace must not be empty: omit it to use the construct path.")
        self._build(work)

    def _express_max_polls(self) -> int:
        """The most polls a waiter can make within an Express execution, retries included."""
        return max_polls_within(EXPRESS_MAX_SECONDS, self.poll_interval_seconds, self.retry)

    def _check_fits_express(self) -> None:
        worst = self.retry.worst_case_seconds
        # The holder's worst case: its acquire, then the work, then storing the result and,
        # if that fails, recording the failure, each with its retries' longest waits.
        holder = self.lease_seconds + 3 * worst
        if holder > EXPRESS_MAX_SECONDS:
            raise ValueError(
                f"lease ({self.lease_seconds} s) plus the worst-case retry waits of the "
                f"holder's writes (3 x {worst} s) is {holder} s, but an Express execution "
                f"ends within {EXPRESS_MAX_SECONDS} s: pass a lease of at most "
                f"{EXPRESS_MAX_SECONDS - 3 * worst} s or a smaller dynamodb_retry, or use "
                "workflow_type=StateMachineType.STANDARD for longer work."
            )
        fit = self._express_max_polls()
        if self.max_polls > fit:
            raise ValueError(
                f"max_polls={self.max_polls} polls of {self.poll_interval_seconds} s, with the "
                f"worst-case retry waits ({worst} s per DynamoDB call), do not fit an Express "
                f"execution's {EXPRESS_MAX_SECONDS} s: lower max_polls to at most {fit}, or "
                "use workflow_type=StateMachineType.STANDARD."
            )

    # -- states ---------------------------------------------------------------------------

    def _build(self, work: sfn.IChainable) -> None:
        binding = self.key.bind(self, "$states.input")
        key = idempotency_key(self.key_namespace, binding.material)
        self._fingerprint = (
            fingerprint(field_selection("$states.input", self.payload_fields))
            if self.payload_fields
            else None
        )

        invalid_key = sfn.Fail.jsonata(
            self,
            S.INVALID_KEY,
            error=r.IdempotencyError.INVALID_KEY.value,
            cause=jsonata("$states.input.Cause"),
        )
        fail_with_work_error = sfn.Fail.jsonata(
            self,
            S.FAIL_WITH_WORK_ERROR,
            error=jsonata(f"${ERROR_VARIABLE}.Error"),
            cause=jsonata(cause_of(f"${ERROR_VARIABLE}")),
        )
        lock_lost = sfn.Fail.jsonata(
            self,
            S.LOCK_LOST,
            error=r.IdempotencyError.LOCK_LOST.value,
            cause=(
                f"The lease ({self.lease_seconds} s) ran out while the work ran and another "
                "execution took the lock over; this execution's result was not stored. "
                "Set a lease longer than the work's longest run."
            ),
        )
        lock_wait_timeout = sfn.Fail.jsonata(
            self,
            S.LOCK_WAIT_TIMEOUT,
            error=r.IdempotencyError.LOCK_WAIT_TIMEOUT.value,
            cause=jsonata(
                f"'Execution ' & ${RECORD_VARIABLE}.{r.EXECUTION_ATTRIBUTE}.S & ' still holds "
                f"the lock after {self.max_polls} polls, {self.poll_interval_seconds} s apart.'"
            ),
        )

        acquire = self._update(
            S.ACQUIRE_LOCK,
            key=key,
            update=r.ACQUIRE_UPDATE_WITH_PAYLOAD if self._fingerprint else r.ACQUIRE_UPDATE,
            condition=r.ACQUIRE_CONDITION,
            return_values=tasks.DynamoReturnValues.ALL_NEW,
            assign={KEY_VARIABLE: jsonata(f"$states.result.Attributes.{r.KEY_ATTRIBUTE}.S")},
        )
        acquire.add_catch(
            self._read_record(lock_wait_timeout, acquire),
            errors=[_CONDITIONAL_CHECK_FAILED],
            assign={
                KEY_VARIABLE: jsonata(key),
                POLLS_VARIABLE: 0,
                **({PAYLOAD_VARIABLE: jsonata(self._fingerprint)} if self._fingerprint else {}),
            },
            outputs=jsonata("$states.input"),
        )
        acquire.add_catch(
            invalid_key,
            errors=["States.QueryEvaluationError"],
            outputs=jsonata("$states.errorOutput"),
        )

        record_failure = self._update(
            S.RECORD_FAILURE,
            key=f"${KEY_VARIABLE}",
            update=r.FAIL_UPDATE,
            condition=r.OWNS_LOCK,
            result=to_json(f"${ERROR_VARIABLE}"),
        )
        record_failure.next(fail_with_work_error)
        record_failure.add_catch(fail_with_work_error, errors=["States.ALL"])

        run_work = sfn.Parallel.jsonata(
            self, S.RUN_WORK, outputs=jsonata("$states.result[0]")
        ).branch(work)
        self.node.add_validation(JsonataWork(_OWNER, run_work))
        for errors in CATCH_ALL:
            run_work.add_catch(
                record_failure,
                errors=list(errors),
                assign={ERROR_VARIABLE: jsonata("$states.errorOutput")},
            )

        store_result = self._update(
            S.STORE_RESULT,
            key=f"${KEY_VARIABLE}",
            update=r.SUCCEED_UPDATE,
            condition=r.OWNS_LOCK,
            result=to_json("$states.input"),
        )
        store_result.add_catch(lock_lost, errors=[_CONDITIONAL_CHECK_FAILED])
        for errors in CATCH_ALL:
            store_result.add_catch(
                record_failure,
                errors=list(errors),
                assign={
                    ERROR_VARIABLE: jsonata(
                        f"{{'Error': {literal(r.IdempotencyError.RESULT_NOT_STORED.value)},"
                        " 'Cause': 'The work succeeded but its result could not be stored: '"
                        " & $states.errorOutput.Error & ': ' & $states.errorOutput.Cause}"
                    )
                },
            )

        acquire.next(run_work).next(store_result)

        self._start: sfn.State = acquire
        if binding.pre_state is not None:
            binding.pre_state.add_catch(
                invalid_key, errors=["States.ALL"], outputs=jsonata("$states.errorOutput")
            )
            binding.pre_state.next(acquire)
            self._start = binding.pre_state
        self._ends: list[sfn.INextable] = [store_result, self._return_stored_result]

    def _read_record(self, lock_wait_timeout: sfn.Fail, acquire: sfn.State) -> sfn.IChainable:
        """Read the record strongly consistently and decide: return, wait, or acquire again."""
        record = f"${RECORD_VARIABLE}"
        read = tasks.DynamoGetItem.jsonata(
            self,
            S.READ_RECORD,
            table=self.table,
            key={
                r.KEY_ATTRIBUTE: tasks.DynamoAttributeValue.from_string(jsonata(f"${KEY_VARIABLE}"))
            },
            consistent_read=True,
            assign={
                RECORD_VARIABLE: jsonata("$exists($states.result.Item) ? $states.result.Item : {}")
            },
            outputs=jsonata("$states.input"),
        )
        self.retry.apply(read)
        self._return_stored_result = sfn.Pass.jsonata(
            self,
            S.RETURN_STORED_RESULT,
            outputs=jsonata(f"$parse({record}.{r.RESULT_ATTRIBUTE}.S)"),
        )
        wait = sfn.Wait.jsonata(
            self,
            S.WAIT_FOR_LOCK,
            time=sfn.WaitTime.duration(Duration.seconds(self.poll_interval_seconds)),
            assign={POLLS_VARIABLE: jsonata(f"${POLLS_VARIABLE} + 1")},
        )
        status = f"{record}.{r.STATUS_ATTRIBUTE}.S"
        fresh = f"$number({record}.`{r.TTL_ATTRIBUTE}`.N) >= {NOW}"
        lease_valid = f"$number({record}.{r.LEASE_ATTRIBUTE}.N) >= {NOW}"
        held = f"{status} = '{r.RecordStatus.IN_PROGRESS.value}' and {lease_valid}"
        succeeded = f"{status} = '{r.RecordStatus.SUCCEEDED.value}' and {fresh}"
        check = sfn.Choice.jsonata(self, S.CHECK_RECORD)
        if self._fingerprint is not None:
            # A key taken by other values of the validated fields: refuse before returning
            # the stored result or waiting for it. A FAILED or expired record is retried.
            stored = f"{record}.{r.PAYLOAD_ATTRIBUTE}.S"
            fields = ", ".join(self.payload_fields)
            mismatch = sfn.Fail.jsonata(
                self,
                S.PAYLOAD_MISMATCH,
                error=r.IdempotencyError.PAYLOAD_MISMATCH.value,
                cause=jsonata(
                    f"'The idempotency key ' & ${KEY_VARIABLE} & ' was taken by a request with "
                    f"other values of {fields}: send a new key for a different request.'"
                ),
            )
            check.when(
                sfn.Condition.jsonata(
                    jsonata(
                        f"$exists({stored}) and {stored} != ${PAYLOAD_VARIABLE}"
                        f" and (({succeeded}) or ({held}))"
                    )
                ),
                mismatch,
            )
        check = (
            check.when(
                sfn.Condition.jsonata(jsonata(succeeded)),
                self._return_stored_result,
            )
            .when(
                sfn.Condition.jsonata(jsonata(f"{held} and ${POLLS_VARIABLE} >= {self.max_polls}")),
                lock_wait_timeout,
            )
            .when(sfn.Condition.jsonata(jsonata(held)), wait)
            # Absent, FAILED, lease or record expired: try to take the lock again.
            .otherwise(acquire)
        )
        wait.next(read)
        return read.next(check)

    def _update(
        self,
        id: str,
        *,
        key: str,
        update: str,
        condition: str,
        result: str | None = None,
        return_values: tasks.DynamoReturnValues | None = None,
        assign: Mapping[str, Any] | None = None,
    ) -> tasks.DynamoUpdateItem:
        """A conditional UpdateItem on the record, with exactly the placeholders it uses."""
        values = {
            ":in_progress": tasks.DynamoAttributeValue.from_string(
                r.RecordStatus.IN_PROGRESS.value
            ),
            ":succeeded": tasks.DynamoAttributeValue.from_string(r.RecordStatus.SUCCEEDED.value),
            ":failed": tasks.DynamoAttributeValue.from_string(r.RecordStatus.FAILED.value),
            ":execution": tasks.DynamoAttributeValue.from_string(
                jsonata("$states.context.Execution.Id")
            ),
            ":now": tasks.DynamoAttributeValue.number_from_string(jsonata(f"$string({NOW})")),
            ":lease": tasks.DynamoAttributeValue.number_from_string(
                jsonata(seconds_from_now(self.lease_seconds))
            ),
            ":ttl": tasks.DynamoAttributeValue.number_from_string(
                jsonata(seconds_from_now(self.record_ttl_seconds))
            ),
        }
        if result is not None:
            values[":result"] = tasks.DynamoAttributeValue.from_string(jsonata(result))
        if self._fingerprint is not None:
            values[":payload"] = tasks.DynamoAttributeValue.from_string(jsonata(self._fingerprint))
        used = r.placeholders([update, condition])
        task = tasks.DynamoUpdateItem.jsonata(
            self,
            id,
            table=self.table,
            key={r.KEY_ATTRIBUTE: tasks.DynamoAttributeValue.from_string(jsonata(key))},
            update_expression=update,
            condition_expression=condition,
            expression_attribute_names={
                name: attr for name, attr in r.ATTRIBUTE_NAMES.items() if name in used
            },
            expression_attribute_values={
                name: value for name, value in values.items() if name in used
            },
            return_values=return_values,
            assign=assign,
            outputs=jsonata("$states.input"),
        )
        self.retry.apply(task)
        return task

    @property
    def start_state(self) -> sfn.State:
        """The first state of the protocol."""
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        """The states that end the protocol: the stored result of this run or of an earlier one."""
        return self._ends
