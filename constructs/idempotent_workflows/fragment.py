"""The idempotency protocol as a state machine fragment wrapped around any work."""

from __future__ import annotations

import math
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from . import protocol as p
from .expressions import NOW, idempotency_key, jsonata, literal, seconds_from_now, to_json
from .key import KEY_MATERIAL_VARIABLE, IdempotencyKey

# Workflow variables, prefixed so they do not clash with the variables of the wrapped work.
KEY_VARIABLE: Final = "idemKey"
RECORD_VARIABLE: Final = "idemRecord"
POLLS_VARIABLE: Final = "idemPolls"
ERROR_VARIABLE: Final = "idemError"

_CONDITIONAL_CHECK_FAILED: Final = "DynamoDB.ConditionalCheckFailedException"
# States.ALL does not catch States.DataLimitExceeded; it must be named on its own.
_ALL_ERRORS: Final = (["States.DataLimitExceeded"], ["States.ALL"])


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
    directly to embed the protocol in a larger state machine, or through
    ``IdempotentWorkflow``, which builds the whole state machine around it.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Construct id.
    work
        The work to protect: any chainable, run as the only branch of a Parallel state. Its
        output is the fragment's output; its error ends the execution with the same name.
    table
        Table for the idempotency records (see ``IdempotencyTable``).
    key
        What identifies a duplicate. Default ``IdempotencyKey.whole_input()``.
    key_function
        Lambda function that evaluates an input-carried JMESPath expression; required with
        ``IdempotencyKey.from_input_jmespath()`` and rejected otherwise. Default: none.
    key_namespace
        Prefix of every key, keeping workflows that share a table apart. Default: the
        construct path of this fragment.
    record_ttl
        How long a record is honoured after it was written; DynamoDB TTL removes it later.
        Default 24 hours. Must exceed ``lease``.
    lease
        How long a lock is honoured while its holder runs the work; after it, another
        execution takes over. Default 15 minutes. Set it above the work's longest run.
    poll_interval
        Wait between two reads of a record held by another execution. Default 10 seconds.
    max_polls
        Polls before a waiter gives up with ``Idempotency.LockWaitTimeout``. Default: enough
        polls to cover the lease.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        work: sfn.IChainable,
        table: dynamodb.ITable,
        key: IdempotencyKey | None = None,
        key_function: lambda_.IFunction | None = None,
        key_namespace: str | None = None,
        record_ttl: Duration | None = None,
        lease: Duration | None = None,
        poll_interval: Duration | None = None,
        max_polls: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.key = key or IdempotencyKey.whole_input()
        self.record_ttl_seconds = _positive_seconds("record_ttl", record_ttl or Duration.hours(24))
        self.lease_seconds = _positive_seconds("lease", lease or Duration.minutes(15))
        self.poll_interval_seconds = _positive_seconds(
            "poll_interval", poll_interval or Duration.seconds(10)
        )
        if max_polls is None:
            max_polls = math.ceil(self.lease_seconds / self.poll_interval_seconds)
        if not isinstance(max_polls, int) or isinstance(max_polls, bool) or max_polls < 1:
            raise ValueError(f"max_polls must be a positive whole number, got {max_polls!r}.")
        self.max_polls = max_polls
        if self.record_ttl_seconds <= self.lease_seconds:
            raise ValueError(
                f"record_ttl ({self.record_ttl_seconds} s) must be longer than lease "
                f"({self.lease_seconds} s): a record must outlive the lock it carries."
            )
        if self.key.uses_lambda and key_function is None:
            raise ValueError(
                "IdempotencyKey.from_input_jmespath() needs key_function, the Lambda function "
                "that evaluates the expression (IdempotentWorkflow creates it for you)."
            )
        if key_function is not None and not self.key.uses_lambda:
            raise ValueError(
                f"key_function is only used with IdempotencyKey.from_input_jmespath(), "
                f"got it with {self.key!r}: drop key_function."
            )
        self.key_namespace = key_namespace if key_namespace is not None else self.node.path
        if not self.key_namespace:
            raise ValueError("key_namespace must not be empty: omit it to use the construct path.")
        self.table = table
        self._build(work, key_function)

    # -- states ---------------------------------------------------------------------------

    def _build(self, work: sfn.IChainable, key_function: lambda_.IFunction | None) -> None:
        key = idempotency_key(self.key_namespace, self.key.material("$states.input"))

        invalid_key = sfn.Fail.jsonata(
            self,
            "InvalidKey",
            error=p.IdempotencyError.INVALID_KEY.value,
            cause=jsonata("$states.input.Cause"),
        )
        fail_with_work_error = sfn.Fail.jsonata(
            self,
            "FailWithWorkError",
            error=jsonata(f"${ERROR_VARIABLE}.Error"),
            cause=jsonata(
                f"$exists(${ERROR_VARIABLE}.Cause) ? ${ERROR_VARIABLE}.Cause : '(no cause given)'"
            ),
        )
        lock_lost = sfn.Fail.jsonata(
            self,
            "LockLost",
            error=p.IdempotencyError.LOCK_LOST.value,
            cause=(
                f"The lease ({self.lease_seconds} s) ran out while the work ran and another "
                "execution took the lock over; this execution's result was not stored. "
                "Set a lease longer than the work's longest run."
            ),
        )
        lock_wait_timeout = sfn.Fail.jsonata(
            self,
            "LockWaitTimeout",
            error=p.IdempotencyError.LOCK_WAIT_TIMEOUT.value,
            cause=jsonata(
                f"'Execution ' & ${RECORD_VARIABLE}.{p.EXECUTION_ATTRIBUTE}.S & ' still holds "
                f"the lock after {self.max_polls} polls, {self.poll_interval_seconds} s apart.'"
            ),
        )

        acquire = self._update(
            "AcquireLock",
            key=key,
            update=p.ACQUIRE_UPDATE,
            condition=p.ACQUIRE_CONDITION,
            return_values=tasks.DynamoReturnValues.ALL_NEW,
            assign={KEY_VARIABLE: jsonata(f"$states.result.Attributes.{p.KEY_ATTRIBUTE}.S")},
        )
        acquire.add_catch(
            self._read_record(lock_wait_timeout, acquire),
            errors=[_CONDITIONAL_CHECK_FAILED],
            assign={KEY_VARIABLE: jsonata(key), POLLS_VARIABLE: 0},
            outputs=jsonata("$states.input"),
        )
        acquire.add_catch(
            invalid_key,
            errors=["States.QueryEvaluationError"],
            outputs=jsonata("$states.errorOutput"),
        )

        record_failure = self._update(
            "RecordFailure",
            key=f"${KEY_VARIABLE}",
            update=p.FAIL_UPDATE,
            condition=p.OWNS_LOCK,
            result=to_json(f"${ERROR_VARIABLE}"),
        )
        record_failure.next(fail_with_work_error)
        record_failure.add_catch(fail_with_work_error, errors=["States.ALL"])

        run_work = sfn.Parallel.jsonata(
            self, "RunWork", outputs=jsonata("$states.result[0]")
        ).branch(work)
        for errors in _ALL_ERRORS:
            run_work.add_catch(
                record_failure,
                errors=errors,
                assign={ERROR_VARIABLE: jsonata("$states.errorOutput")},
            )

        store_result = self._update(
            "StoreResult",
            key=f"${KEY_VARIABLE}",
            update=p.SUCCEED_UPDATE,
            condition=p.OWNS_LOCK,
            result=to_json("$states.input"),
        )
        store_result.add_catch(lock_lost, errors=[_CONDITIONAL_CHECK_FAILED])
        for errors in _ALL_ERRORS:
            store_result.add_catch(
                record_failure,
                errors=errors,
                assign={
                    ERROR_VARIABLE: jsonata(
                        f"{{'Error': {literal(p.IdempotencyError.RESULT_NOT_STORED.value)},"
                        " 'Cause': 'The work succeeded but its result could not be stored: '"
                        " & $states.errorOutput.Error & ': ' & $states.errorOutput.Cause}"
                    )
                },
            )

        acquire.next(run_work).next(store_result)

        if key_function is not None:
            compute_key = tasks.LambdaInvoke.jsonata(
                self,
                "ComputeKey",
                lambda_function=key_function,
                assign={KEY_MATERIAL_VARIABLE: jsonata("$states.result.Payload")},
                outputs=jsonata("$states.input"),
            )
            compute_key.add_catch(
                invalid_key, errors=["States.ALL"], outputs=jsonata("$states.errorOutput")
            )
            compute_key.next(acquire)
            self._start: sfn.State = compute_key
        else:
            self._start = acquire
        self._ends: list[sfn.INextable] = [store_result, self._return_stored_result]

    def _read_record(self, lock_wait_timeout: sfn.Fail, acquire: sfn.State) -> sfn.State:
        """Read the record strongly consistently and decide: return, wait, or acquire again."""
        record = f"${RECORD_VARIABLE}"
        read = tasks.DynamoGetItem.jsonata(
            self,
            "ReadRecord",
            table=self.table,
            key={
                p.KEY_ATTRIBUTE: tasks.DynamoAttributeValue.from_string(jsonata(f"${KEY_VARIABLE}"))
            },
            consistent_read=True,
            assign={
                RECORD_VARIABLE: jsonata("$exists($states.result.Item) ? $states.result.Item : {}")
            },
            outputs=jsonata("$states.input"),
        )
        self._return_stored_result = sfn.Pass.jsonata(
            self,
            "ReturnStoredResult",
            outputs=jsonata(f"$parse({record}.{p.RESULT_ATTRIBUTE}.S)"),
        )
        wait = sfn.Wait.jsonata(
            self,
            "WaitForLock",
            time=sfn.WaitTime.duration(Duration.seconds(self.poll_interval_seconds)),
            assign={POLLS_VARIABLE: jsonata(f"${POLLS_VARIABLE} + 1")},
        )
        status = f"{record}.{p.STATUS_ATTRIBUTE}.S"
        fresh = f"$number({record}.`{p.TTL_ATTRIBUTE}`.N) >= {NOW}"
        lease_valid = f"$number({record}.{p.LEASE_ATTRIBUTE}.N) >= {NOW}"
        held = f"{status} = '{p.RecordStatus.IN_PROGRESS.value}' and {lease_valid}"
        check = (
            sfn.Choice.jsonata(self, "CheckRecord")
            .when(
                sfn.Condition.jsonata(
                    jsonata(f"{status} = '{p.RecordStatus.SUCCEEDED.value}' and {fresh}")
                ),
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
        assign: dict | None = None,
    ) -> tasks.DynamoUpdateItem:
        """A conditional UpdateItem on the record, with exactly the placeholders it uses."""
        values = {
            ":in_progress": tasks.DynamoAttributeValue.from_string(
                p.RecordStatus.IN_PROGRESS.value
            ),
            ":succeeded": tasks.DynamoAttributeValue.from_string(p.RecordStatus.SUCCEEDED.value),
            ":failed": tasks.DynamoAttributeValue.from_string(p.RecordStatus.FAILED.value),
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
        used = p.placeholders([update, condition])
        return tasks.DynamoUpdateItem.jsonata(
            self,
            id,
            table=self.table,
            key={p.KEY_ATTRIBUTE: tasks.DynamoAttributeValue.from_string(jsonata(key))},
            update_expression=update,
            condition_expression=condition,
            expression_attribute_names={
                name: attr for name, attr in p.ATTRIBUTE_NAMES.items() if name in used
            },
            expression_attribute_values={
                name: value for name, value in values.items() if name in used
            },
            return_values=return_values,
            assign=assign,
            outputs=jsonata("$states.input"),
        )

    @property
    def start_state(self) -> sfn.State:
        """The first state of the protocol."""
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        """The states that end the protocol: the stored result of this run or of an earlier one."""
        return self._ends
