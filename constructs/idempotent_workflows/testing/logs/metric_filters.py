"""A template's metric filters, applied to the log events of executions: what CloudWatch counts.

Each ``AWS::Logs::MetricFilter`` reads one log group; each state machine's
``LoggingConfiguration`` says which log group its executions write to, at which level and
with or without execution data. ``metric_counts`` puts both together, as CloudWatch would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .execution_logs import log_messages
from .filter_patterns import FilterPattern


@dataclass(frozen=True)
class MetricFilter:
    """One ``AWS::Logs::MetricFilter`` of a template.

    Attributes
    ----------
    log_group
        The log group it reads (its logical id in the template, or its name).
    pattern
        Its filter pattern, parsed.
    namespace, metric_name
        The metric it adds to.
    value
        What each matching event adds (a number: filters reading fields are not read here).
    """

    log_group: str
    pattern: FilterPattern
    namespace: str
    metric_name: str
    value: float


@dataclass(frozen=True)
class Logging:
    """A state machine's ``LoggingConfiguration``."""

    log_group: str
    level: str
    include_execution_data: bool


def _log_group(reference: Any) -> str:
    """The logical id in ``{"Ref": id}`` or ``{"Fn::GetAtt": [id, "Arn"]}``, else the name."""
    if isinstance(reference, Mapping):
        if "Ref" in reference:
            return str(reference["Ref"])
        if "Fn::GetAtt" in reference:
            return str(reference["Fn::GetAtt"][0])
        raise ValueError(f"A log group reference the local engine does not read: {reference}")
    text = str(reference)
    return text.split(":log-group:")[1].split(":")[0] if ":log-group:" in text else text


def metric_filters(template: Mapping[str, Any]) -> list[MetricFilter]:
    """Every metric filter of a synthesized template."""
    found = []
    for resource in template.get("Resources", {}).values():
        if resource["Type"] != "AWS::Logs::MetricFilter":
            continue
        properties = resource["Properties"]
        for transformation in properties["MetricTransformations"]:
            found.append(
                MetricFilter(
                    log_group=_log_group(properties["LogGroupName"]),
                    pattern=FilterPattern(properties["FilterPattern"]),
                    namespace=transformation["MetricNamespace"],
                    metric_name=transformation["MetricName"],
                    value=float(transformation["MetricValue"]),
                )
            )
    return found


def state_machine_logging(template: Mapping[str, Any]) -> dict[str, Logging]:
    """The logging of each state machine that logs, by logical id."""
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        configuration = resource["Properties"].get("LoggingConfiguration")
        if not configuration or not configuration.get("Destinations"):
            continue
        (destination,) = configuration["Destinations"]
        found[logical_id] = Logging(
            log_group=_log_group(destination["CloudWatchLogsLogGroup"]["LogGroupArn"]),
            level=configuration.get("Level", "OFF"),
            include_execution_data=bool(configuration.get("IncludeExecutionData", False)),
        )
    return found


def metric_counts(
    filters: Iterable[MetricFilter],
    logs: Iterable[tuple[Logging, str, list[dict[str, Any]]]],
) -> dict[str, Counter[str]]:
    """What each metric counts over executions' logs, by namespace then metric name.

    Parameters
    ----------
    filters
        The metric filters.
    logs
        For each execution: its state machine's logging, its ARN and its history.

    Returns
    -------
    dict
        Every filter's metric, with 0 where nothing matched.
    """
    filters = list(filters)
    counts: dict[str, Counter[str]] = {}
    for metric_filter in filters:
        counts.setdefault(metric_filter.namespace, Counter())[metric_filter.metric_name] += 0
    for logging, execution_arn, history in logs:
        reading = [f for f in filters if f.log_group == logging.log_group]
        for message in log_messages(
            execution_arn,
            history,
            level=logging.level,
            include_execution_data=logging.include_execution_data,
        ):
            for metric_filter in reading:
                if metric_filter.pattern.matches(message):
                    counts[metric_filter.namespace][metric_filter.metric_name] += int(
                        metric_filter.value
                    )
    return counts
