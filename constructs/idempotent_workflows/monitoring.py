"""``WorkflowMonitoring``: alarms and a dashboard for one idempotent workflow.

What ``IdempotentWorkflow.add_monitoring()`` builds, following aws-cdk's and
cdk-monitoring-constructs' conventions: 5-minute periods, counts as sums, error alarms above a
threshold with missing data not breaching, no physical names, the runbook named in each
alarm's description (README, "Operating it"). The protocol's metrics come from its execution
log (``metrics.py``); Step Functions' and DynamoDB's from their own namespaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from .metrics import METRIC_PERIOD
from .private.checks import check_instance, check_int, check_interface

if TYPE_CHECKING:
    from .workflow import IdempotentWorkflow

#: Where each alarm's runbook is.
RUNBOOK: Final = "README 'Operating it', runbook"
#: Dashboard widths (a row is 24 columns) and heights, as cdk-monitoring-constructs sizes them.
_THIRD: Final = 8
_FULL: Final = 24
_GRAPH_HEIGHT: Final = 6
_ALARM_HEIGHT: Final = 4


@dataclass(frozen=True)
class _Alarm:
    """One alarm of the workflow: its id, what breaches it, and the periods that must."""

    id: str
    metric: cloudwatch.Metric | cloudwatch.MathExpression
    threshold: float
    periods: int
    description: str


class WorkflowMonitoring(Construct):
    """Alarms and a CloudWatch dashboard for an ``IdempotentWorkflow``.

    Build it with ``IdempotentWorkflow.add_monitoring()`` (or the same method of
    ``IdempotentApi`` and ``IdempotentQueue``). Five alarms, each sending to ``topic`` when it
    fires: the duplicate rate above a threshold (3 of 3 periods), any ``LockLost``, any
    ``ResultNotStored``, any ``LockWaitTimeouts``, executions failing. The dashboard shows
    them, Step Functions' execution metrics, the protocol's metrics and the table's throttles.

    Parameters
    ----------
    scope
        Parent construct (the workflow).
    id
        Construct id.
    workflow
        The workflow to watch; it must log at level ALL (its default).
    topic
        Where the alarms send (an SNS topic of yours). Default: no action.
    dashboard
        A dashboard to add the workflow's widgets to (one shared by several workflows costs
        one dashboard). Default: a new dashboard.
    duplicate_rate_percent
        The duplicate rate (duplicates per 100 executions started) above which the
        ``DuplicateRate`` alarm fires. Default 1.
    failed_executions
        How many failed executions in 5 minutes the ``ExecutionsFailed`` alarm tolerates.
        Default 0.

    Attributes
    ----------
    alarms : dict of str to aws_cloudwatch.Alarm
        The alarms by id: ``DuplicateRate``, ``LockLost``, ``ResultNotStored``,
        ``LockWaitTimeouts``, ``ExecutionsFailed``.
    dashboard : aws_cloudwatch.Dashboard
        The dashboard, given or created.
    duplicate_rate : aws_cloudwatch.MathExpression
        Duplicates per 100 executions started, per 5 minutes.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workflow: IdempotentWorkflow,
        topic: sns.ITopic | None = None,
        dashboard: cloudwatch.Dashboard | None = None,
        duplicate_rate_percent: float = 1.0,
        failed_executions: int = 0,
    ) -> None:
        owner = f"{type(workflow).__name__}.add_monitoring"
        check_interface(
            owner,
            "topic",
            topic,
            members=("topic_arn", "add_subscription"),
            expected="an sns.ITopic",
            fix="pass an sns.Topic (or sns.Topic.from_topic_arn(...))",
        )
        check_instance(
            owner, "dashboard", dashboard, cloudwatch.Dashboard, "pass a cloudwatch.Dashboard"
        )
        rate = duplicate_rate_percent
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 100:
            raise ValueError(
                f"{owner}: duplicate_rate_percent must be a number from 0 to 100 (a percentage "
                f"of the executions started), got {rate!r}."
            )
        check_int(owner, "failed_executions", failed_executions, minimum=0, example=5)
        super().__init__(scope, id)
        duplicates = workflow.metric_duplicates(label="Duplicates")
        started = workflow.metric_started(statistic=cloudwatch.Stats.SUM, period=METRIC_PERIOD)
        self.duplicate_rate = cloudwatch.MathExpression(
            expression="IF(started > 0, 100 * FILL(duplicates, 0) / started, 0)",
            using_metrics={"duplicates": duplicates, "started": started},
            label="Duplicate rate (%)",
            period=METRIC_PERIOD,
        )
        failed = workflow.metric_failed(statistic=cloudwatch.Stats.SUM, period=METRIC_PERIOD)
        self.alarms = {
            spec.id: self._alarm(spec, topic)
            for spec in (
                _Alarm(
                    "DuplicateRate",
                    self.duplicate_rate,
                    duplicate_rate_percent,
                    3,
                    f"More than {duplicate_rate_percent:g}% of the executions started were "
                    "duplicates in 3 periods of 5 minutes in a row: a client retries too eagerly "
                    "or a producer sends twice.",
                ),
                _Alarm(
                    "LockLost",
                    workflow.metric_lock_lost(),
                    0,
                    1,
                    "A holder's lease ran out while its work ran and another execution took "
                    "the key over: the work ran twice. Raise the lease above the work's "
                    "longest run.",
                ),
                _Alarm(
                    "ResultNotStored",
                    workflow.metric_result_not_stored(),
                    0,
                    1,
                    "Work succeeded but its result could not be stored (throttled table, item "
                    "over 400 KB): the next request runs the work again.",
                ),
                _Alarm(
                    "LockWaitTimeouts",
                    workflow.metric_lock_wait_timeouts(),
                    0,
                    1,
                    "Waiters gave up on a key another execution held past the poll bound: a "
                    "holder is slow or dead. Show the key; release it if its holder is dead.",
                ),
                _Alarm(
                    "ExecutionsFailed",
                    failed,
                    failed_executions,
                    1,
                    f"More than {failed_executions} executions failed in 5 minutes (the work's "
                    "errors and the Idempotency.* ones).",
                ),
            )
        }
        self.dashboard = dashboard or cloudwatch.Dashboard(
            self, "Dashboard", default_interval=Duration.hours(3)
        )
        self._add_widgets(workflow)

    def _alarm(self, spec: _Alarm, topic: sns.ITopic | None) -> cloudwatch.Alarm:
        alarm: cloudwatch.Alarm = spec.metric.create_alarm(
            self,
            spec.id,
            threshold=spec.threshold,
            evaluation_periods=spec.periods,
            datapoints_to_alarm=spec.periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{spec.description} ({RUNBOOK} {spec.id})",
        )
        if topic is not None:
            alarm.add_alarm_action(actions.SnsAction(topic))
        return alarm

    def _add_widgets(self, workflow: IdempotentWorkflow) -> None:
        executions = [
            workflow.state_machine.metric(name, statistic=cloudwatch.Stats.SUM, label=label)
            for name, label in (
                ("ExecutionsStarted", "Started"),
                ("ExecutionsSucceeded", "Succeeded"),
                ("ExecutionsFailed", "Failed"),
                ("ExecutionsTimedOut", "Timed out"),
                ("ExecutionsAborted", "Aborted"),
            )
        ]
        errors = [
            workflow.protocol_metric(name, label=name)
            for name in ("LockLost", "ResultNotStored", "InvalidKeys", "PayloadMismatches")
            if workflow.metrics is not None and name in workflow.metrics.filters
        ]
        table = workflow.table
        throttles = cloudwatch.MathExpression(
            expression="FILL(reads, 0) + FILL(writes, 0)",
            using_metrics={
                "reads": table.metric("ReadThrottleEvents", statistic=cloudwatch.Stats.SUM),
                "writes": table.metric("WriteThrottleEvents", statistic=cloudwatch.Stats.SUM),
            },
            label="Throttled requests",
            period=METRIC_PERIOD,
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"## {workflow.node.path}\nRunbooks: README, Operating it.",
                width=_FULL,
                height=2,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms.values()), width=_FULL, height=_ALARM_HEIGHT
            )
        )
        self.dashboard.add_widgets(
            self._graph("Executions", executions),
            self._graph(
                "Work runs and duplicates",
                [
                    workflow.metric_work_runs(label="Work runs"),
                    workflow.metric_duplicates(label="Duplicates"),
                ],
                right=[self.duplicate_rate],
            ),
            self._graph(
                "Lock waits",
                [
                    workflow.metric_lock_waits(label="Polls"),
                    workflow.metric_lock_wait_timeouts(label="Gave up"),
                ],
            ),
        )
        self.dashboard.add_widgets(
            self._graph("Machinery errors", errors),
            self._graph(
                "Execution time",
                [
                    workflow.metric_time(statistic=statistic, label=statistic)
                    for statistic in ("p50", "p90", "p99")
                ],
            ),
            self._graph("Table throttles", [throttles]),
        )

    @staticmethod
    def _graph(
        title: str,
        left: Sequence[cloudwatch.IMetric],
        *,
        right: Sequence[cloudwatch.IMetric] = (),
    ) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=title,
            left=list(left),
            right=list(right),
            width=_THIRD,
            height=_GRAPH_HEIGHT,
            period=METRIC_PERIOD,
        )
