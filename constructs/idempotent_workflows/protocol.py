"""``IdempotencyProtocol``: the idempotency protocol as a fragment wrapped around any work."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple, cast

import jsii
from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IValidation

from .errors import IdempotencyError
from .key import IdempotencyKey
from .metrics import ProtocolMetrics, checked_namespace
from .private import record as r
from .private.catch_all import catch_every_error
from .private.enclosing_machine import MachineProbe
from .private.jsonata_expressions import (
    NOW,
    cause_of,
    field_selection,
    fingerprint,
    idempotency_key,
    jsonata,
    literal,
    replayable_json,
    seconds_from_now,
    stored_size,
    to_json,
)
from .private.jsonpath_work import JsonataWork
from .private.props import ProtocolProps
from .replay import (
    REPLAYED_CAUSE_PREFIX,
    REPLAYED_FIELD,
    RESULT_FIELD,
    ReplayReport,
)
from .retry import RetryPolicy
from .runtime.description import descriptor_comment, payload_mismatch_cause
from .runtime.records import RecordStatus
from .states import ProtocolState as S
from .table import IdempotencyTable

#: Default prefix of the protocol's workflow variables (``idemKey``, ``idemRecord``...), so
#: that they do not clash with the variables of the wrapped work.
DEFAULT_VARIABLE_PREFIX: Final = "idem"
#: What a variable prefix may be: the start of a JSONata variable name.
_VARIABLE_PREFIX: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CONDITIONAL_CHECK_FAILED: Final = "DynamoDB.ConditionalCheckFailedException"
_QUERY_EVALUATION_ERROR: Final = "States.QueryEvaluationError"
#: The construct id of the protocol's metric filters.
_METRICS_ID: Final = "Metrics"


class _Variables(NamedTuple):
    """The names of the protocol's workflow variables: ``<prefix>Key``, ``<prefix>Record``..."""

    key: str
    record: str
    polls: str
    error: str
    payload: str
    replayed: str

    @classmethod
    def prefixed(cls, prefix: str) -> _Variables:
        return cls(*(prefix + field.capitalize() for field in cls._fields))


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
        Standard, 90 seconds for Express.
    poll_interval
        Wait between two reads of a record held by another execution. Default 10 seconds.
    max_polls
        Polls before a waiter gives up with ``Idempotency.LockWaitTimeout``, whose cause says
        when the holder's lease ends. Default: enough polls to outlast the lease, so that a
        waiter takes over from a holder that died.
    workflow_type
        The type of the state machine the fragment runs in. Default
        ``StateMachineType.STANDARD``. With ``EXPRESS``, a lease or a poll bound that cannot
        end within an Express execution's 5 minutes (worst-case retries included) is
        rejected, and so is a lease that a waiter with the default ``max_polls`` cannot
        outlast and still run the work in those 5 minutes. Synthesis fails when the state
        machine the fragment is built into has another type.
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
    variable_prefix
        Prefix of the protocol's workflow variables (``<prefix>Key``, ``<prefix>Record``...).
        Default ``"idem"``. A protocol nested in another one's work needs its own, as Step
        Functions refuses an inner state assigning a variable of an enclosing scope; give it
        its own state names too (``prefix_states``) and key namespace.
    replay_report
        Whether, and how, an answer says if it ran the work or came from the record:
        ``ReplayReport.NONE`` (default: the output is the result, as it always was),
        ``ReplayReport.VARIABLE`` (the output is the result; the last state assigns
        ``$<variable_prefix>Replayed``, ``$idemReplayed`` by default, ``true`` or ``false``,
        for the states that follow the fragment) or
        ``ReplayReport.ENVELOPE`` (the output is ``{"replayed": <bool>, "result": <the
        result>}``). With either, the replayed stored failure ``Idempotency.ResultTooLarge``
        has a cause that begins ``"Replay of the stored failure: "``.

    Raises
    ------
    TypeError
        If a prop has the wrong type (the message names the prop and what to pass).
    ValueError
        If a value is out of range, the work uses JSONPath, the configuration cannot fit
        an Express execution, or ``variable_prefix`` is not the start of a variable name.

    Attributes
    ----------
    table : aws_dynamodb.ITable
        The table of the records.
    key : IdempotencyKey
        The key mode.
    key_namespace : str
        The prefix of every key.
    workflow_type : aws_stepfunctions.StateMachineType
        The type of state machine the fragment is built for.
    retry : RetryPolicy
        The retries of every DynamoDB call.
    payload_fields : tuple of str
        The validated input fields.
    replay_report : ReplayReport
        How an answer says whether it is a replay.
    record_ttl_seconds, lease_seconds, poll_interval_seconds : int
        The durations, defaults applied, in seconds.
    max_polls : int
        Polls before ``Idempotency.LockWaitTimeout``, default applied.
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
        variable_prefix: str = DEFAULT_VARIABLE_PREFIX,
        replay_report: ReplayReport = ReplayReport.NONE,
    ) -> None:
        if not isinstance(variable_prefix, str) or not _VARIABLE_PREFIX.fullmatch(variable_prefix):
            raise ValueError(
                f"{ProtocolProps.OWNER}: variable_prefix must be a letter followed by letters, "
                f"digits or underscores, got {variable_prefix!r}: pass for example "
                'variable_prefix="payment".'
            )
        self._variables = _Variables.prefixed(variable_prefix)
        props = ProtocolProps(
            work=work,
            table=table,
            key=key,
            key_namespace=key_namespace,
            record_ttl=record_ttl,
            lease=lease,
            poll_interval=poll_interval,
            max_polls=max_polls,
            workflow_type=workflow_type,
            dynamodb_retry=dynamodb_retry,
            payload_fields=payload_fields,
            replay_report=replay_report,
        )
        # ProtocolProps refuses a missing table: here, unlike in a workflow, it is required.
        self._construct(scope, id, props, cast(dynamodb.ITable, props.itable))

    def _construct(
        self, scope: Construct, id: str, props: ProtocolProps, table: dynamodb.ITable
    ) -> None:
        """Build the fragment from checked props (the only path: see ``_ProtocolOfProps``)."""
        super().__init__(scope, id)
        self.table = table
        self.key = props.idempotency_key
        self.workflow_type = props.workflow_type
        self.retry = props.retry
        self.payload_fields = props.payload_paths
        self.replay_report = props.replay_report
        self.record_ttl_seconds = props.record_ttl_seconds
        self.lease_seconds = props.lease_seconds
        self.poll_interval_seconds = props.poll_interval_seconds
        self.max_polls = props.polls
        self.key_namespace = props.key_namespace or self.node.path
        self._owner = props.OWNER
        self._output_json_text = props.OUTPUT_JSON_TEXT
        self._build(props.work)

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
            error=IdempotencyError.INVALID_KEY.value,
            cause=jsonata("$states.input.Cause"),
        )
        fail_with_work_error = sfn.Fail.jsonata(
            self,
            S.FAIL_WITH_WORK_ERROR,
            error=jsonata(f"${self._variables.error}.Error"),
            cause=jsonata(cause_of(f"${self._variables.error}")),
        )
        lock_lost = sfn.Fail.jsonata(
            self,
            S.LOCK_LOST,
            error=IdempotencyError.LOCK_LOST.value,
            cause=(
                f"The lease ({self.lease_seconds} s) ran out while the work ran and another "
                "execution took the lock over; this execution's result was not stored. "
                "Set a lease longer than the work's longest run."
            ),
        )
        # The holder is named by its execution name only (the ARN names the account, the
        # region and the state machine); the time its lease ends is when a retry can proceed.
        record = f"${self._variables.record}"
        lock_wait_timeout = sfn.Fail.jsonata(
            self,
            S.LOCK_WAIT_TIMEOUT,
            error=IdempotencyError.LOCK_WAIT_TIMEOUT.value,
            cause=jsonata(
                f"($lease := $number({record}.{r.LEASE_ATTRIBUTE}.N);"
                f" 'Execution ' & $split({record}.{r.EXECUTION_ATTRIBUTE}.S, ':')[7]"
                f" & ' still holds the key after {self.max_polls} polls,"
                f" {self.poll_interval_seconds} s apart; its lease ends in '"
                f" & $string($lease - {NOW}) & ' s, at ' & $fromMillis($lease * 1000)"
                " & ': retry then.')"
            ),
        )

        acquire = self._update(
            S.ACQUIRE_LOCK,
            key=key,
            update=r.ACQUIRE_UPDATE_WITH_PAYLOAD if self._fingerprint else r.ACQUIRE_UPDATE,
            condition=r.ACQUIRE_CONDITION,
            return_values=tasks.DynamoReturnValues.ALL_NEW,
            assign={self._variables.key: jsonata(f"$states.result.Attributes.{r.KEY_ATTRIBUTE}.S")},
            # What runtime code needs to compute the same keys (WorkflowDescription).
            comment=descriptor_comment(
                namespace=self.key_namespace,
                key=self.key.rule,
                payload_fields=self.payload_fields,
                workflow_type=self.workflow_type.value,
                record_ttl_seconds=self.record_ttl_seconds,
                lease_seconds=self.lease_seconds,
            ),
        )
        acquire.add_catch(
            self._read_record(lock_wait_timeout, acquire),
            errors=[_CONDITIONAL_CHECK_FAILED],
            assign={
                self._variables.key: jsonata(key),
                self._variables.polls: 0,
                **(
                    {self._variables.payload: jsonata(self._fingerprint)}
                    if self._fingerprint
                    else {}
                ),
            },
            outputs=jsonata("$states.input"),
        )
        acquire.add_catch(
            invalid_key,
            errors=[_QUERY_EVALUATION_ERROR],
            outputs=jsonata("$states.errorOutput"),
        )

        record_failure = self._update(
            S.RECORD_FAILURE,
            key=f"${self._variables.key}",
            update=r.FAIL_UPDATE,
            condition=r.OWNS_LOCK,
            result=to_json(f"${self._variables.error}"),
        )
        record_failure.next(fail_with_work_error)
        record_failure.add_catch(fail_with_work_error, errors=["States.ALL"])

        run_work = _RunWork(
            self,
            S.RUN_WORK,
            query_language=sfn.QueryLanguage.JSONATA,
            # The answer is the output as a duplicate gets it: its stored JSON text, read back.
            outputs=jsonata(f"$parse({to_json('$states.result[0]')})"),
        )
        run_work.branch(work)
        self.node.add_validation(JsonataWork(self._owner, run_work))
        self.node.add_validation(_RunsInItsMachineType(self, run_work))
        catch_every_error(
            run_work, record_failure, assign={self._variables.error: jsonata("$states.errorOutput")}
        )

        # An output that a duplicate could not be answered with is not stored: the Arguments
        # fail, and RecordFailure records the terminal RESULT_TOO_LARGE instead. (Computed here,
        # from the state's input, rather than kept in a variable: MiniStack ignores a Parallel
        # state's Assign.)
        limit, too_large = r.REPLAYABLE_BYTES, IdempotencyError.RESULT_TOO_LARGE.value
        store_result = self._update(
            S.STORE_RESULT,
            key=f"${self._variables.key}",
            update=r.SUCCEED_UPDATE,
            condition=r.OWNS_LOCK,
            result=replayable_json("$states.input", limit, too_large),
            assign=self._replayed(replayed=False),
            outputs=self._answer(to_json("$states.input"), "$states.input", replayed=False),
        )
        store_result.add_catch(lock_lost, errors=[_CONDITIONAL_CHECK_FAILED])
        # Which failure: too large to replay (terminal), or not stored (the next run retries).
        not_stored = jsonata(
            f"($size := {stored_size('$states.input')}; $size > {limit}"
            f" ? {{'Error': {literal(too_large)}, 'Cause': 'The work succeeded, but its output"
            " takes ' & $string($size) & ' bytes in the idempotency record, over the"
            f" {limit} that a duplicate can be answered with, so it was not stored. Until the"
            " record expires, every execution with this key ends with this error, and the work"
            " does not run again. Return a smaller output (a reference to where the data is"
            f" kept, for example).'}} : {{'Error':"
            f" {literal(IdempotencyError.RESULT_NOT_STORED.value)},"
            " 'Cause': 'The work succeeded but its result could not be stored: '"
            " & $states.errorOutput.Error & ': ' & $states.errorOutput.Cause})"
        )
        store_result.add_catch(
            record_failure,
            errors=[_QUERY_EVALUATION_ERROR],
            assign={self._variables.error: not_stored},
        )
        catch_every_error(store_result, record_failure, assign={self._variables.error: not_stored})

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
        record = f"${self._variables.record}"
        read = tasks.DynamoGetItem.jsonata(
            self,
            S.READ_RECORD,
            table=self.table,
            key={
                r.KEY_ATTRIBUTE: tasks.DynamoAttributeValue.from_string(
                    jsonata(f"${self._variables.key}")
                )
            },
            consistent_read=True,
            assign={
                self._variables.record: jsonata(
                    "$exists($states.result.Item) ? $states.result.Item : {}"
                )
            },
            outputs=jsonata("$states.input"),
        )
        self.retry.apply(read)
        stored = f"{record}.{r.RESULT_ATTRIBUTE}.S"
        self._return_stored_result = sfn.Pass.jsonata(
            self,
            S.RETURN_STORED_RESULT,
            assign=self._replayed(replayed=True),
            outputs=jsonata(self._answer(stored, f"$parse({stored})", replayed=True)),
        )
        wait = sfn.Wait.jsonata(
            self,
            S.WAIT_FOR_LOCK,
            time=sfn.WaitTime.duration(Duration.seconds(self.poll_interval_seconds)),
            assign={self._variables.polls: jsonata(f"${self._variables.polls} + 1")},
        )
        status = f"{record}.{r.STATUS_ATTRIBUTE}.S"
        fresh = f"$number({record}.`{r.TTL_ATTRIBUTE}`.N) >= {NOW}"
        lease_valid = f"$number({record}.{r.LEASE_ATTRIBUTE}.N) >= {NOW}"
        held = f"{status} = '{RecordStatus.IN_PROGRESS.value}' and {lease_valid}"
        succeeded = f"{status} = '{RecordStatus.SUCCEEDED.value}' and {fresh}"
        too_large = f"{status} = '{RecordStatus.RESULT_TOO_LARGE.value}' and {fresh}"
        # The key's first run told its caller; every duplicate gets the same error and cause
        # (which says it is a replay, when the protocol reports replays).
        replay = (
            ""
            if self.replay_report == ReplayReport.NONE
            else f"{literal(REPLAYED_CAUSE_PREFIX)} & "
        )
        result_too_large = sfn.Fail.jsonata(
            self,
            S.RESULT_TOO_LARGE,
            error=IdempotencyError.RESULT_TOO_LARGE.value,
            cause=jsonata(f"{replay}$parse({stored}).Cause"),
        )
        check = sfn.Choice.jsonata(self, S.CHECK_RECORD)
        if self._fingerprint is not None:
            # A key taken by other values of the validated fields: refuse before returning
            # the stored result or waiting for it. A FAILED or expired record is retried.
            fingerprint = f"{record}.{r.PAYLOAD_ATTRIBUTE}.S"
            mismatch = sfn.Fail.jsonata(
                self,
                S.PAYLOAD_MISMATCH,
                error=IdempotencyError.PAYLOAD_MISMATCH.value,
                cause=payload_mismatch_cause(self.payload_fields),
            )
            check.when(
                sfn.Condition.jsonata(
                    jsonata(
                        f"$exists({fingerprint}) and {fingerprint} != ${self._variables.payload}"
                        f" and (({succeeded}) or ({too_large}) or ({held}))"
                    )
                ),
                mismatch,
            )
        check = (
            check.when(
                sfn.Condition.jsonata(jsonata(succeeded)),
                self._return_stored_result,
            )
            .when(sfn.Condition.jsonata(jsonata(too_large)), result_too_large)
            .when(
                sfn.Condition.jsonata(
                    jsonata(f"{held} and ${self._variables.polls} >= {self.max_polls}")
                ),
                lock_wait_timeout,
            )
            .when(sfn.Condition.jsonata(jsonata(held)), wait)
            # Absent, FAILED, lease or record expired: try to take the lock again.
            # (RESULT_TOO_LARGE is terminal until the record expires.)
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
        outputs: str = "$states.input",
        comment: str | None = None,
    ) -> tasks.DynamoUpdateItem:
        """A conditional UpdateItem on the record, with exactly the placeholders it uses."""
        values = {
            ":one": tasks.DynamoAttributeValue.from_number(1),
            ":in_progress": tasks.DynamoAttributeValue.from_string(RecordStatus.IN_PROGRESS.value),
            ":succeeded": tasks.DynamoAttributeValue.from_string(RecordStatus.SUCCEEDED.value),
            ":failed": tasks.DynamoAttributeValue.from_string(RecordStatus.FAILED.value),
            ":failure_status": tasks.DynamoAttributeValue.from_string(
                jsonata(
                    f"${self._variables.error}.Error = "
                    f"{literal(IdempotencyError.RESULT_TOO_LARGE.value)}"
                    f" ? {literal(RecordStatus.RESULT_TOO_LARGE.value)}"
                    f" : {literal(RecordStatus.FAILED.value)}"
                )
            ),
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
            comment=comment,
            outputs=jsonata(outputs),
        )
        self.retry.apply(task)
        return task

    def _answer(self, text: str, value: str, *, replayed: bool) -> str:
        """JSONata for the protocol's output: the result, or its JSON text in ``resultJson``.

        With ``ReplayReport.ENVELOPE`` the output also says whether it is a replay, in
        ``replayed``, and the result itself is in ``result``.

        Parameters
        ----------
        text
            JSONata for the result's stored JSON text.
        value
            JSONata for the result itself.
        replayed
            Whether the answer comes from the record.
        """
        fields = []
        if self.replay_report == ReplayReport.ENVELOPE:
            fields.append((REPLAYED_FIELD, "true" if replayed else "false"))
        if self._output_json_text:
            fields.append((r.RESULT_JSON_FIELD, text))
        elif fields:
            fields.append((RESULT_FIELD, value))
        if not fields:
            return value
        return "{" + ", ".join(f"{literal(name)}: {item}" for name, item in fields) + "}"

    def _replayed(self, *, replayed: bool) -> dict[str, bool] | None:
        """The ``Assign`` of a state that ends the protocol (``ReplayReport.VARIABLE``)."""
        if self.replay_report == ReplayReport.VARIABLE:
            return {self._variables.replayed: replayed}
        return None

    # -- metrics --------------------------------------------------------------------------

    def add_metric_filters(
        self, logs: sfn.LogOptions, *, namespace: str | None = None
    ) -> ProtocolMetrics:
        """Count what this protocol does from its state machine's execution log.

        Adds one CloudWatch Logs metric filter per protocol metric (``PROTOCOL_METRICS``:
        ``WorkRuns``, ``Duplicates``, ``LockWaits``, ...) that the log level writes, on the
        log group of ``logs``. ``IdempotentWorkflow`` calls it for its own state machine; call
        it once for a protocol embedded in a state machine of your own, with that machine's
        ``logs`` (``execution_logs()`` logs at level ALL, which every metric needs).

        Parameters
        ----------
        logs
            The state machine's logging (its ``logs`` prop): the log group and the level.
        namespace
            The metrics' CloudWatch namespace. Default ``IdempotentWorkflows/`` followed by
            the key namespace (characters CloudWatch refuses replaced by ``_``).

        Returns
        -------
        ProtocolMetrics
            The filters, and the ``metric_...()`` methods of the metrics.

        Raises
        ------
        ValueError
            If ``logs`` has no log group, ``namespace`` is not a CloudWatch namespace, or the
            filters were added already.
        """
        owner = f"{self._owner}.add_metric_filters"
        if logs.destination is None:
            raise ValueError(
                f"{owner}: logs has no destination, got {logs!r}: pass the state machine's "
                "LogOptions with a log group (execution_logs() makes one)."
            )
        if self.node.try_find_child(_METRICS_ID) is not None:
            raise ValueError(
                f"{owner}: the metric filters of {self.node.path} exist already; use the "
                "ProtocolMetrics the first call returned."
            )
        return ProtocolMetrics(
            self,
            _METRICS_ID,
            log_group=logs.destination,
            level=logs.level or sfn.LogLevel.ERROR,
            namespace=checked_namespace(owner, namespace, self.key_namespace),
            states={
                child.node.id: child for child in self.node.children if isinstance(child, sfn.State)
            },
            owner=self._owner,
        )

    @property
    def start_state(self) -> sfn.State:
        """The first state of the protocol."""
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        """The states that end the protocol: the stored result of this run or of an earlier one."""
        return self._ends


class _ProtocolOfProps(IdempotencyProtocol):
    """An ``IdempotencyProtocol`` built from props that the construct the user called checked.

    ``IdempotentWorkflow`` builds its protocol this way: its own props class has checked every
    prop (naming ``IdempotentWorkflow``, or ``IdempotentApi``...), so nothing is checked twice.
    """

    def __init__(
        self, scope: Construct, id: str, props: ProtocolProps, table: dynamodb.ITable
    ) -> None:
        self._variables = _Variables.prefixed(DEFAULT_VARIABLE_PREFIX)
        self._construct(scope, id, props, table)


class _RunWork(MachineProbe, sfn.Parallel):
    """The Parallel state around the work, which notes the state machine it is built into."""


@jsii.implements(IValidation)
class _RunsInItsMachineType:
    """Deferred check: the protocol runs in a state machine of its own ``workflow_type``.

    An embedded protocol is built before (and apart from) the user's state machine; its lease,
    poll bound and Express limits follow ``workflow_type``, so a mismatch is refused at synth.
    """

    def __init__(self, protocol: IdempotencyProtocol, run_work: _RunWork) -> None:
        self._protocol = protocol
        self._run_work = run_work

    def validate(self) -> list[str]:
        """One error per state machine of another type that holds the protocol."""
        declared = self._protocol.workflow_type
        return [
            f"{self._protocol._owner}: workflow_type is {declared.name}, but the protocol runs "
            f"in the {machine.state_machine_type.name} state machine '{machine.node.path}': "
            f"pass workflow_type=sfn.StateMachineType.{machine.state_machine_type.name}, so "
            "that its lease, poll bound and limits are those of that machine's executions."
            for machine in self._run_work.machines
            if machine.state_machine_type != declared
        ]
