"""What the idempotency protocol did, as CloudWatch metrics counted from its execution log.

Step Functions' own metrics count executions, and nothing finer: they cannot tell a first run
from a duplicate. The protocol adds no state, Lambda or API call to count; its execution log
already says what happened (the state entered, or the error the execution ended with), so a
CloudWatch Logs metric filter per metric counts it there. ``PROTOCOL_METRICS`` lists them, one
row each; ``ProtocolMetrics`` owns the filters of one protocol and returns its metrics.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import jsii
from aws_cdk import Duration, IStableStringProducer, Lazy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .errors import IdempotencyError
from .states import ProtocolState as S

#: Log levels from the quietest to the most verbose; a level logs what the ones before it do.
LOG_LEVELS: Final = (sfn.LogLevel.OFF, sfn.LogLevel.FATAL, sfn.LogLevel.ERROR, sfn.LogLevel.ALL)
#: Every metric's period unless its caller says otherwise (aws-cdk's and
#: cdk-monitoring-constructs' default).
METRIC_PERIOD: Final = Duration.minutes(5)
#: The namespace of every workflow's metrics starts with this (then its key namespace).
NAMESPACE_PREFIX: Final = "IdempotentWorkflows/"
#: What CloudWatch accepts in a namespace (its documented alphabet and length).
_NAMESPACE: Final = re.compile(r"[A-Za-z0-9.\-_/#: ]{1,255}")


@dataclass(frozen=True)
class ProtocolMetric:
    """One metric: the log event that counts it and the least log level that writes it.

    Attributes
    ----------
    name
        The metric name in CloudWatch.
    event_type
        The type of the execution log event that counts one.
    state
        The protocol state (its ``ProtocolState`` name) the event must name, for a
        ``...StateEntered`` event; ``None`` for an execution event.
    error
        The error the event must carry (``ExecutionFailed``); ``None`` otherwise.
    level
        The least log level at which Step Functions writes the event.
    description
        What one count means, for docs and dashboards.
    """

    name: str
    event_type: str
    state: str | None
    error: str | None
    level: sfn.LogLevel
    description: str


#: The protocol's metrics. Adding one is a row here and a ``metric_...()`` method below.
PROTOCOL_METRICS: Final = (
    ProtocolMetric(
        "WorkRuns",
        "ParallelStateEntered",
        S.RUN_WORK,
        None,
        sfn.LogLevel.ALL,
        "An execution took the lock and ran the work (a first run, a run after a failure, a "
        "takeover of an expired lease).",
    ),
    ProtocolMetric(
        "Duplicates",
        "PassStateEntered",
        S.RETURN_STORED_RESULT,
        None,
        sfn.LogLevel.ALL,
        "An execution found the key's result stored and returned it without running the work.",
    ),
    ProtocolMetric(
        "LockWaits",
        "WaitStateEntered",
        S.WAIT_FOR_LOCK,
        None,
        sfn.LogLevel.ALL,
        "One poll of a key another execution holds (an execution that waited three times "
        "counts three).",
    ),
    ProtocolMetric(
        "LockWaitTimeouts",
        "FailStateEntered",
        S.LOCK_WAIT_TIMEOUT,
        None,
        sfn.LogLevel.ERROR,
        "A waiter gave up: the holder still held the lock after the last poll.",
    ),
    ProtocolMetric(
        "LockLost",
        "FailStateEntered",
        S.LOCK_LOST,
        None,
        sfn.LogLevel.ERROR,
        "A holder's lease ran out while its work ran and another execution took the key over; "
        "its result was not stored.",
    ),
    # No Fail state of its own: RecordFailure and FailWithWorkError also serve the work's
    # errors, so the execution's error name tells them apart.
    ProtocolMetric(
        "ResultNotStored",
        "ExecutionFailed",
        None,
        IdempotencyError.RESULT_NOT_STORED.value,
        sfn.LogLevel.FATAL,
        "The work succeeded but its result could not be stored; the record is FAILED.",
    ),
    ProtocolMetric(
        "PayloadMismatches",
        "FailStateEntered",
        S.PAYLOAD_MISMATCH,
        None,
        sfn.LogLevel.ERROR,
        "A request reused a key with other values of the validated fields (a client's bug).",
    ),
    ProtocolMetric(
        "InvalidKeys",
        "FailStateEntered",
        S.INVALID_KEY,
        None,
        sfn.LogLevel.ERROR,
        "No idempotency key could be computed from an execution's input.",
    ),
)
_BY_NAME: Final = {metric.name: metric for metric in PROTOCOL_METRICS}


def logs_at(level: sfn.LogLevel, least: sfn.LogLevel) -> bool:
    """Whether a state machine logging at ``level`` writes what ``least`` writes."""
    return LOG_LEVELS.index(level) >= LOG_LEVELS.index(least) > 0


def checked_namespace(owner: str, namespace: str | None, key_namespace: str) -> str:
    """The namespace of a protocol's metrics: ``namespace`` checked, or the default.

    The default is ``IdempotentWorkflows/<key namespace>``, where characters CloudWatch does
    not accept in a namespace become ``_``, cut to CloudWatch's 255 characters.
    """
    if namespace is None:
        return re.sub(r"[^A-Za-z0-9.\-_/#: ]", "_", NAMESPACE_PREFIX + key_namespace)[:255]
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise ValueError(
            f"{owner}: namespace {namespace!r} is not a CloudWatch namespace: expected 1 to 255 "
            "letters, digits, spaces or . - _ / # :, not starting with AWS/."
        )
    if namespace.startswith("AWS/"):
        raise ValueError(
            f"{owner}: namespace {namespace!r} starts with AWS/, which CloudWatch keeps for AWS "
            "services: pass another one."
        )
    return namespace


@jsii.implements(IStableStringProducer)
class _QuotedStateName:
    """A state's name in the definition as a filter pattern's quoted string, read at synth.

    Read late, so that ``prefix_states()`` called after the filters were added is honoured.
    """

    def __init__(self, state: sfn.State) -> None:
        self._state = state

    def produce(self) -> str:
        return json.dumps(self._state.state_id)


def filter_pattern(metric: ProtocolMetric, states: dict[str, sfn.State]) -> logs.IFilterPattern:
    """The JSON filter pattern that matches the log events of one count of ``metric``."""
    if metric.state is None:
        return logs.FilterPattern.all(
            logs.FilterPattern.string_value("$.type", "=", metric.event_type),
            logs.FilterPattern.string_value("$.details.error", "=", metric.error or ""),
        )
    # Written out as FilterPattern.all(string_value(...), ...) writes it: the name is a token.
    name = Lazy.string(_QuotedStateName(states[metric.state]))
    return logs.FilterPattern.literal(
        f'{{ ($.type = "{metric.event_type}") && ($.details.name = {name}) }}'
    )


class ProtocolMetricMethods:
    """The ``metric_...()`` methods of every construct that owns an idempotency protocol.

    Each returns a ``cloudwatch.Metric`` (sum over 5 minutes unless ``props`` say otherwise)
    through ``protocol_metric``, which the construct defines.
    """

    def protocol_metric(self, metric_name: str, **props: Any) -> cloudwatch.Metric:
        """The protocol metric ``metric_name`` (see ``ProtocolMetrics.protocol_metric``)."""
        raise NotImplementedError

    def metric_work_runs(self, **props: Any) -> cloudwatch.Metric:
        """Executions that took the lock and ran the work."""
        return self.protocol_metric("WorkRuns", **props)

    def metric_duplicates(self, **props: Any) -> cloudwatch.Metric:
        """Executions answered from the record without running the work."""
        return self.protocol_metric("Duplicates", **props)

    def metric_lock_waits(self, **props: Any) -> cloudwatch.Metric:
        """Polls of a key that another execution holds."""
        return self.protocol_metric("LockWaits", **props)

    def metric_lock_wait_timeouts(self, **props: Any) -> cloudwatch.Metric:
        """Waiters that gave up (``Idempotency.LockWaitTimeout``)."""
        return self.protocol_metric("LockWaitTimeouts", **props)

    def metric_lock_lost(self, **props: Any) -> cloudwatch.Metric:
        """Holders whose lease ran out while the work ran (``Idempotency.LockLost``)."""
        return self.protocol_metric("LockLost", **props)

    def metric_result_not_stored(self, **props: Any) -> cloudwatch.Metric:
        """Work that succeeded but whose result was not stored (``...ResultNotStored``)."""
        return self.protocol_metric("ResultNotStored", **props)

    def metric_payload_mismatches(self, **props: Any) -> cloudwatch.Metric:
        """Keys reused with other validated fields (``Idempotency.PayloadMismatch``)."""
        return self.protocol_metric("PayloadMismatches", **props)

    def metric_invalid_keys(self, **props: Any) -> cloudwatch.Metric:
        """Inputs no key could be computed from (``Idempotency.InvalidKey``)."""
        return self.protocol_metric("InvalidKeys", **props)


class ProtocolMetrics(ProtocolMetricMethods, Construct):
    """The metric filters of one ``IdempotencyProtocol`` on its state machine's log group.

    Built by ``IdempotencyProtocol.add_metric_filters`` (and so by every
    ``IdempotentWorkflow``); one ``AWS::Logs::MetricFilter`` per metric that the state
    machine's log level writes, each adding 1 per matching event to a metric without
    dimensions and without a default value (a metric that never counts costs nothing).

    Attributes
    ----------
    namespace : str
        The CloudWatch namespace of the metrics.
    level : aws_stepfunctions.LogLevel
        The state machine's log level the filters were made for.
    filters : dict of str to aws_logs.MetricFilter
        The metric filter of each metric the log level allows, by metric name.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        log_group: logs.ILogGroup,
        level: sfn.LogLevel,
        namespace: str,
        states: dict[str, sfn.State],
        owner: str,
    ) -> None:
        super().__init__(scope, id)
        self._owner = owner
        self.namespace = namespace
        self.level = level
        self.filters = {
            metric.name: logs.MetricFilter(
                self,
                metric.name,
                log_group=log_group,
                filter_pattern=filter_pattern(metric, states),
                metric_namespace=namespace,
                metric_name=metric.name,
                metric_value="1",
            )
            for metric in PROTOCOL_METRICS
            if logs_at(level, metric.level) and (metric.state is None or metric.state in states)
        }

    def protocol_metric(self, metric_name: str, **props: Any) -> cloudwatch.Metric:
        """The protocol metric ``metric_name`` (a ``PROTOCOL_METRICS`` name).

        Sum over 5 minutes unless ``props`` (``cloudwatch.MetricOptions``) say otherwise.

        Raises
        ------
        ValueError
            If the state machine's log level does not write what the metric counts, or the
            protocol has no such state (``PayloadMismatches`` without ``payload_fields``).
        """
        metric = _BY_NAME.get(metric_name)
        if metric is None:
            raise ValueError(
                f"{self._owner}: no protocol metric is named {metric_name!r}; expected one of "
                f"{sorted(_BY_NAME)}."
            )
        if metric_name not in self.filters:
            if not logs_at(self.level, metric.level):
                raise ValueError(
                    f"{self._owner}: {metric_name} is counted from events logged at level "
                    f"{metric.level.value}, but the state machine logs at {self.level.value}: "
                    f"log at sfn.LogLevel.{metric.level.value} or more (execution_logs() does)."
                )
            raise ValueError(
                f"{self._owner}: {metric_name} counts the {metric.state} state, which this "
                "protocol does not have: it exists only with payload_fields."
            )
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=metric_name,
            **{"statistic": cloudwatch.Stats.SUM, "period": METRIC_PERIOD, **props},
        )
