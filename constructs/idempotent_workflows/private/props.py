"""The props of the constructs built on the protocol: each defined, defaulted and checked once.

``ProtocolProps`` holds the protocol's props (``IdempotencyProtocol``). ``WorkflowProps``
extends them with the state machine's (``IdempotentWorkflow``), and ``ApiProps``
(``IdempotentApi``) and ``QueueProps`` (``IdempotentQueue``) extend those. A construct packs
its keyword props into its class; the dataclass checks every prop (types, ranges, what fits
the state machine type) before anything is built, naming the construct the user called
(``OWNER``), and resolves the defaults. The constructs build from the resolved values
(``lease_seconds``, ``polls``, ...); a construct built inside another one (the API's
workflow, the workflow's protocol) takes the outer construct's props as they are, so nothing
is checked twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final, NamedTuple

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn

from ..key import IdempotencyKey
from ..replay import ReplayHeaders, ReplayReport
from ..retry import RetryPolicy
from ..status_map import StatusMap
from ..table import IdempotencyTable
from .checks import (
    check_bool,
    check_duration,
    check_instance,
    check_int,
    check_interface,
    check_removal_policy,
    fail,
    field_paths,
    seconds,
)
from .jsonpath_work import check_jsonata_work
from .mapping_templates import BODY_FIELD, CALLER_FIELD, KEY_FIELD, ROUTE_FIELD
from .record import PARTITION_KEY_LIMIT_BYTES

#: Longest run of an Express execution, in seconds.
EXPRESS_MAX_SECONDS: Final = 300
#: API Gateway's default integration timeout, in seconds: a synchronous answer must fit it.
INTEGRATION_TIMEOUT_SECONDS: Final = 29
#: Room left in the integration timeout for API Gateway and the states' own run time.
_TIMEOUT_MARGIN_SECONDS: Final = 1
#: Statuses that are not allowed to answer a work error: they mean a reused or busy key.
_RESERVED_STATUSES: Final = frozenset({StatusMap.PAYLOAD_MISMATCH, StatusMap.IN_PROGRESS})


def max_polls_within(seconds: int, poll_interval_seconds: int, retry: RetryPolicy) -> int:
    """The most polls a waiter can make within ``seconds``, its retries' longest waits included.

    A waiter's worst case: the first acquire and a last re-acquire, every read, each with its
    retries' longest waits, and ``max_polls`` poll intervals. Zero or less: none fits.
    """
    worst = retry.worst_case_seconds
    return (seconds - 2 * worst) // (poll_interval_seconds + worst)


def polls_outlasting(lease_seconds: int, poll_interval_seconds: int) -> int:
    """The fewest polls after which a lease taken before the first read has surely ended.

    The record counts whole seconds: a lease is still valid in its last second, so the polls
    must span one second more than the lease.
    """
    return math.ceil((lease_seconds + 1) / poll_interval_seconds)


def takeover_seconds(lease: int, poll_interval: int, polls: int, retry: RetryPolicy) -> int:
    """A waiter's worst case when it outlasts a dead holder's lease and then runs the work.

    Its first acquire, ``polls + 1`` reads and ``polls`` waits, the acquire that takes the key
    over, the work (shorter than the lease) and its two writes (``StoreResult``, and
    ``RecordFailure`` if that fails), each DynamoDB call with its retries' longest waits.
    """
    return (polls + 5) * retry.worst_case_seconds + polls * poll_interval + lease


class PollBudget(NamedTuple):
    """The time within which a waiter must give up, and how the error describes it."""

    seconds: int
    #: What the time is, for example "an Express execution's 300 s".
    limit: str
    #: What else the user may change, after lowering max_polls.
    alternatives: str
    #: Whether a waiter with the default max_polls must outlast a dead holder's lease and then
    #: run the work within ``seconds`` (an Express workflow); otherwise the default polls are
    #: the most that fit, and a waiter gives up earlier, saying when the lease ends (the API).
    takes_over: bool


@dataclass(frozen=True, kw_only=True)
class ProtocolProps:
    """The props of ``IdempotencyProtocol`` (which documents them), checked and resolved.

    The resolved values (``itable``, ``idempotency_key``, ``*_seconds``, ``polls``,
    ``retry``, ``payload_paths``) are set as the checks pass.
    """

    #: The construct the user called, named in every error.
    OWNER: ClassVar[str] = "IdempotencyProtocol"
    #: Default wait between two reads of a record that another execution holds.
    DEFAULT_POLL_INTERVAL: ClassVar[Duration] = Duration.seconds(10)
    #: Default retries of the machinery's DynamoDB calls.
    DEFAULT_RETRY: ClassVar[RetryPolicy] = RetryPolicy()
    #: Default record lifetime.
    DEFAULT_RECORD_TTL: ClassVar[Duration] = Duration.hours(24)
    #: Default lease: Standard executions may run long; Express ones end within five minutes,
    #: and a waiter must outlast a dead holder's lease and still run the work in its own: 10
    #: polls of 10 s, 90 s of work and 7 s of worst-case retry waits per DynamoDB call take 295
    #: of those 300 s (``takeover_seconds``).
    DEFAULT_LEASE: ClassVar[Mapping[sfn.StateMachineType, Duration]] = {
        sfn.StateMachineType.STANDARD: Duration.minutes(15),
        sfn.StateMachineType.EXPRESS: Duration.seconds(90),
    }
    #: Whether the protocol answers with the result's stored JSON text, in ``resultJson``,
    #: instead of the result itself: the same text, byte for byte, on the first answer and on
    #: every replay (``IdempotentApi`` prints it as the response body).
    OUTPUT_JSON_TEXT: ClassVar[bool] = False

    work: sfn.IChainable
    table: dynamodb.ITable | IdempotencyTable | None = None
    key: IdempotencyKey | None = None
    key_namespace: str | None = None
    record_ttl: Duration | None = None
    lease: Duration | None = None
    poll_interval: Duration | None = None
    max_polls: int | None = None
    workflow_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD
    dynamodb_retry: RetryPolicy | None = None
    payload_fields: Sequence[str] = ()
    replay_report: ReplayReport = ReplayReport.NONE

    # Resolved by __post_init__.
    itable: dynamodb.ITable | None = field(init=False)
    idempotency_key: IdempotencyKey = field(init=False)
    record_ttl_seconds: int = field(init=False)
    lease_seconds: int = field(init=False)
    poll_interval_seconds: int = field(init=False)
    polls: int = field(init=False)
    retry: RetryPolicy = field(init=False)
    payload_paths: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self._check()
        self._resolve()

    def _check_takeover(
        self, budget: PollBudget, lease: int, interval: int, polls: int, retry: RetryPolicy
    ) -> None:
        """Refuse a lease that a waiter cannot outlast and still run the work within budget."""
        takeover = takeover_seconds(lease, interval, polls, retry)
        if takeover <= budget.seconds:
            return
        longest = next(
            (
                shorter
                for shorter in range(lease - 1, 0, -1)
                if takeover_seconds(shorter, interval, polls_outlasting(shorter, interval), retry)
                <= budget.seconds
            ),
            None,
        )
        shorter = "" if longest is None else f"pass a lease of at most {longest} s, "
        raise ValueError(
            f"{self.OWNER}: lease={lease} s is too long for a waiter to outlast a holder that "
            f"died and still run the work: {polls} polls of {interval} s, the work and the "
            f"worst-case retry waits ({retry.worst_case_seconds} s per DynamoDB call) take up "
            f"to {takeover} s, over {budget.limit}: {shorter}pass max_polls to give up "
            "earlier (waiters then fail with Idempotency.LockWaitTimeout, saying when the "
            f"lease ends), {budget.alternatives}."
        )

    @property
    def express(self) -> bool:
        """Whether the protocol runs in an Express state machine."""
        return self.workflow_type == sfn.StateMachineType.EXPRESS

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)  # the dataclass is frozen once built

    def _check(self) -> None:
        """Check the type of every prop; subclasses add theirs."""
        owner = self.OWNER
        check_jsonata_work(owner, self.work)
        self._set("itable", self._table())
        key_fix = (
            f"pass IdempotencyKey.from_fields({self.key!r})"
            if isinstance(self.key, str)
            else "pass IdempotencyKey.whole_input(), .from_fields(...) or .from_input_jmespath()"
        )
        check_instance(owner, "key", self.key, IdempotencyKey, key_fix)
        for prop in ("record_ttl", "lease", "poll_interval"):
            check_duration(owner, prop, getattr(self, prop))
        check_instance(owner, "key_namespace", self.key_namespace, str, "pass a string or omit it")
        if self.key_namespace == "":
            raise ValueError(f"{owner}: key_namespace must not be empty: omit it for the default.")
        # The key is "<namespace>#" and 64 hex digits, in a partition key of at most 2,048 bytes.
        longest = PARTITION_KEY_LIMIT_BYTES - 65
        if self.key_namespace is not None and len(self.key_namespace.encode()) > longest:
            raise ValueError(
                f"{owner}: key_namespace takes {len(self.key_namespace.encode())} bytes of UTF-8, "
                f"but DynamoDB keys hold at most {PARTITION_KEY_LIMIT_BYTES}, {longest} of them "
                "for the namespace: pass a shorter one."
            )
        check_int(owner, "max_polls", self.max_polls, minimum=1, example=10)
        check_instance(
            owner,
            "workflow_type",
            self.workflow_type,
            sfn.StateMachineType,
            "pass sfn.StateMachineType.STANDARD or sfn.StateMachineType.EXPRESS",
        )
        check_instance(
            owner,
            "dynamodb_retry",
            self.dynamodb_retry,
            RetryPolicy,
            "pass RetryPolicy(max_attempts=...) or RetryPolicy.off()",
        )
        self._set("payload_paths", field_paths(owner, "payload_fields", self.payload_fields))
        if not isinstance(self.replay_report, ReplayReport):
            raise fail(
                owner,
                "replay_report",
                "a ReplayReport",
                self.replay_report,
                "pass ReplayReport.NONE, ReplayReport.VARIABLE or ReplayReport.ENVELOPE",
            )

    def _table(self) -> dynamodb.ITable | None:
        """The ``ITable`` of the ``table`` prop (required here; optional for a workflow)."""
        owner, table = self.OWNER, self.table
        if table is None:
            raise fail(owner, "table", "given", None, "pass IdempotencyTable(scope, 'Records')")
        if isinstance(table, IdempotencyTable):
            return table.table
        check_interface(
            owner,
            "table",
            table,
            members=("table_name", "table_arn", "grant_read_write_data"),
            expected="an aws_dynamodb.ITable or an IdempotencyTable",
            fix="pass IdempotencyTable(...).table, dynamodb.Table(...) or "
            "Table.from_table_name(...)",
        )
        return table

    def _poll_budget(self) -> PollBudget | None:
        """How long a waiter may wait at most: an Express execution's time, or no limit."""
        if not self.express:
            return None
        return PollBudget(
            EXPRESS_MAX_SECONDS,
            f"an Express execution's {EXPRESS_MAX_SECONDS} s",
            "or use workflow_type=StateMachineType.STANDARD",
            takes_over=True,
        )

    def _resolve(self) -> None:
        """Apply the defaults and check what only the values together can tell."""
        owner = self.OWNER
        retry = self.dynamodb_retry or self.DEFAULT_RETRY
        lease = seconds(owner, "lease", self.lease or self.DEFAULT_LEASE[self.workflow_type])
        ttl = seconds(owner, "record_ttl", self.record_ttl or self.DEFAULT_RECORD_TTL)
        interval = seconds(owner, "poll_interval", self.poll_interval or self.DEFAULT_POLL_INTERVAL)
        if ttl <= lease:
            raise ValueError(
                f"{owner}: record_ttl ({ttl} s) must be longer than lease ({lease} s): a record "
                "must outlive the lock it carries."
            )
        worst = retry.worst_case_seconds
        if self.express and lease + 3 * worst > EXPRESS_MAX_SECONDS:
            # The holder's worst case: its acquire, then the work, then storing the result
            # and, if that fails, recording the failure, each with its retries' longest waits.
            raise ValueError(
                f"{owner}: lease ({lease} s) plus the worst-case retry waits of the holder's "
                f"writes (3 x {worst} s) is {lease + 3 * worst} s, but an Express execution "
                f"ends within {EXPRESS_MAX_SECONDS} s: pass a lease of at most "
                f"{EXPRESS_MAX_SECONDS - 3 * worst} s or a smaller dynamodb_retry, or use "
                "workflow_type=StateMachineType.STANDARD for longer work."
            )
        # By default a waiter outlasts the lease, so that it takes over from a dead holder.
        polls = self.max_polls or polls_outlasting(lease, interval)
        budget = self._poll_budget()
        if budget is not None:
            fit = max_polls_within(budget.seconds, interval, retry)
            if fit < 1 or (self.max_polls is not None and self.max_polls > fit):
                wanted = "any poll" if fit < 1 else f"max_polls={self.max_polls} polls"
                raise ValueError(
                    f"{owner}: {wanted} of {interval} s, with the worst-case retry waits "
                    f"({worst} s per DynamoDB call), cannot end within {budget.limit}: lower "
                    f"max_polls to at most {max(fit, 0)}, {budget.alternatives}."
                )
            if self.max_polls is None and budget.takes_over:
                self._check_takeover(budget, lease, interval, polls, retry)
            else:
                polls = min(polls, fit)
        self._set("idempotency_key", self.key or IdempotencyKey.whole_input())
        self._set("retry", retry)
        self._set("lease_seconds", lease)
        self._set("record_ttl_seconds", ttl)
        self._set("poll_interval_seconds", interval)
        self._set("polls", polls)


@dataclass(frozen=True, kw_only=True)
class WorkflowProps(ProtocolProps):
    """The props of ``IdempotentWorkflow``: the protocol's and the state machine's."""

    OWNER: ClassVar[str] = "IdempotentWorkflow"

    logs: sfn.LogOptions | None = None
    tracing_enabled: bool = True
    state_machine_name: str | None = None
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN

    def _check(self) -> None:
        super()._check()
        owner = self.OWNER
        check_instance(
            owner, "logs", self.logs, sfn.LogOptions, "pass sfn.LogOptions(destination=..., ...)"
        )
        check_bool(owner, "tracing_enabled", self.tracing_enabled)
        check_instance(
            owner, "state_machine_name", self.state_machine_name, str, "pass a string or omit it"
        )
        check_removal_policy(owner, self.removal_policy)

    def _table(self) -> dynamodb.ITable | None:
        """None without a ``table`` prop: the workflow then creates its own."""
        return None if self.table is None else super()._table()


@dataclass(frozen=True, kw_only=True)
class ApiProps(WorkflowProps):
    """The props of ``IdempotentApi``: its own and those of its Express workflow.

    The workflow's key (the ``Idempotency-Key`` header, with the caller unless
    ``scope_keys_to_caller`` is off, and the route with ``key_includes_route``), its validated
    fields (the body, or ``body_fields`` of it), its output (the stored JSON text, answered
    verbatim, and whether it is a replay, answered in a header) and its type (Express: API
    Gateway waits for the answer) are fixed by the API, not props; ``requested_workflow_type``
    carries a ``workflow_type`` passed anyway, to refuse it with the reason.
    """

    OWNER: ClassVar[str] = "IdempotentApi"
    OUTPUT_JSON_TEXT: ClassVar[bool] = True
    DEFAULT_POLL_INTERVAL: ClassVar[Duration] = Duration.seconds(2)
    #: 2 retries, at most 1 + 2 s of waits: leaves room for polls in 29 s.
    DEFAULT_RETRY: ClassVar[RetryPolicy] = RetryPolicy(
        max_attempts=2, max_delay=Duration.seconds(2)
    )

    path: str = "/"
    http_method: str = "POST"
    body_fields: Sequence[str] | None = None
    require_key: bool = True
    key_includes_route: bool = False
    success_status: int = 200
    work_error_status: int = 500
    error_statuses: Mapping[str, int] | None = None
    throttling_rate_limit: float = 50
    throttling_burst_limit: int = 100
    api_key_required: bool = False
    stage_name: str = "v1"
    scope_keys_to_caller: bool = True
    replay_headers: ReplayHeaders | None = None
    requested_workflow_type: object = None

    workflow_type: sfn.StateMachineType = field(init=False, default=sfn.StateMachineType.EXPRESS)
    key: IdempotencyKey | None = field(init=False, default=None)
    key_namespace: str | None = field(init=False, default=None)
    payload_fields: Sequence[str] = field(init=False, default=())
    #: The response template reads the flag from the workflow's output.
    replay_report: ReplayReport = field(init=False, default=ReplayReport.ENVELOPE)

    # Resolved by __post_init__.
    headers: ReplayHeaders = field(init=False)

    def _check(self) -> None:
        owner = self.OWNER
        if self.requested_workflow_type is not None:
            raise TypeError(
                f"{owner}: workflow_type cannot be set, got {self.requested_workflow_type}: "
                "the API always runs an Express workflow (API Gateway waits for the answer of "
                "StartSyncExecution, which only Express state machines give); omit it, or put "
                "your own integration in front of an IdempotentWorkflow for a Standard one."
            )
        body = [BODY_FIELD]
        if self.body_fields is not None:
            body = [
                f"{BODY_FIELD}.{name}"
                for name in field_paths(owner, "body_fields", self.body_fields)
            ]
        self._set("payload_fields", body)
        for prop in ("scope_keys_to_caller", "key_includes_route"):
            check_bool(owner, prop, getattr(self, prop))
        scope = [CALLER_FIELD] if self.scope_keys_to_caller else []
        route = [ROUTE_FIELD] if self.key_includes_route else []
        self._set("key", IdempotencyKey.from_fields(*scope, *route, KEY_FIELD))
        check_instance(
            owner,
            "replay_headers",
            self.replay_headers,
            ReplayHeaders,
            "pass ReplayHeaders(replayed='Idempotent-Replayed', key='Idempotency-Key')",
        )
        self._set("headers", self.replay_headers or ReplayHeaders())
        super()._check()
        for prop in ("require_key", "api_key_required"):
            check_bool(owner, prop, getattr(self, prop))
        for prop in ("path", "http_method", "stage_name"):
            check_instance(
                owner, prop, getattr(self, prop), str, f"pass a string such as {prop}='v1'"
            )
        for name, status in (self.error_statuses or {}).items():
            if self._status(f"error_statuses[{name!r}]", status) in _RESERVED_STATUSES:
                raise ValueError(
                    f"{owner}: error_statuses[{name!r}] is {status}, which answers a reused "
                    "key (422) or a key in use (409): choose another."
                )
        self._status("success_status", self.success_status)
        self._status("work_error_status", self.work_error_status)

    @property
    def statuses(self) -> StatusMap:
        """The statuses the method answers with; a 409's ``Retry-After`` is the poll interval."""
        return StatusMap(
            success=self.success_status,
            work_error=self.work_error_status,
            errors=dict(self.error_statuses or {}),
            retry_after_seconds=self.poll_interval_seconds,
        )

    def _status(self, prop: str, status: object) -> int:
        if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
            raise fail(
                self.OWNER, prop, "an HTTP status from 200 to 599", status, "pass for example 201"
            )
        return status

    def _poll_budget(self) -> PollBudget:
        budget = INTEGRATION_TIMEOUT_SECONDS - _TIMEOUT_MARGIN_SECONDS
        return PollBudget(
            budget,
            f"API Gateway's {INTEGRATION_TIMEOUT_SECONDS} s integration timeout (less "
            f"{_TIMEOUT_MARGIN_SECONDS} s for the states)",
            "shorten poll_interval, or pass a smaller dynamodb_retry",
            # A request cannot wait for a lease to end: 409, with Retry-After at its end.
            takes_over=False,
        )


@dataclass(frozen=True, kw_only=True)
class QueueProps(WorkflowProps):
    """The props of ``IdempotentQueue``: its own and those of the workflow the queue starts.

    The workflow's key is the ``key_fields`` of the message, not a prop: the pipe hands the
    workflow a batch of one message, so each field is read in its first element.
    """

    OWNER: ClassVar[str] = "IdempotentQueue"

    key_fields: Sequence[str] = ("messageId",)
    max_receive_count: int = 5
    workflow_type: sfn.StateMachineType = sfn.StateMachineType.EXPRESS
    key: IdempotencyKey | None = field(init=False, default=None)

    def _check(self) -> None:
        owner = self.OWNER
        fields = field_paths(owner, "key_fields", self.key_fields)
        if not fields:
            raise ValueError(
                f"{owner}: key_fields must name at least one field, for example "
                "key_fields=['messageId'] (the default) or ['body.orderId']."
            )
        self._set("key", IdempotencyKey.from_fields(*(f"0.{field}" for field in fields)))
        check_int(owner, "max_receive_count", self.max_receive_count, minimum=1, example=5)
        super()._check()
