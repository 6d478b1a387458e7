"""The log events Step Functions writes to CloudWatch Logs for an execution, from its history.

The engine keeps every execution's history (Express ones too, which AWS keeps only in the
log), and Step Functions writes one log event per history event that the log level admits.
The shape follows executions recorded on AWS (LocalStack's AWS-validated snapshots of Step
Functions logging at every level, with and without execution data) and the log-level table of
the Step Functions Developer Guide ("Log levels"); each message reads::

    {"id": "2", "type": "PassStateEntered", "details": {"name": "ReturnStoredResult"},
     "previous_event_id": "1", "event_timestamp": "1718025391000",
     "execution_arn": "arn:aws:states:...", "redrive_count": "0"}

- ``details`` is the history event's one ``...EventDetails`` object, ``{}`` when it has none;
- ``id``, ``previous_event_id``, ``redrive_count`` and ``event_timestamp`` (epoch
  milliseconds) are strings;
- without execution data, ``input``, ``inputDetails``, ``output`` and ``outputDetails`` are
  left out (recorded); so are a task's ``parameters`` and the ``assignedVariables`` of a state
  exit (not in the recordings: assumed, as they carry data too).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

#: The event types each level logs (the guide's table; ALL logs every type, OFF none).
LEVEL_EVENT_TYPES: Final[dict[str, frozenset[str]]] = {
    "FATAL": frozenset({"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"}),
    "ERROR": frozenset(
        {
            "ExecutionAborted",
            "ExecutionFailed",
            "ExecutionTimedOut",
            "FailStateEntered",
            "LambdaFunctionFailed",
            "LambdaFunctionScheduleFailed",
            "LambdaFunctionStartFailed",
            "LambdaFunctionTimedOut",
            "MapIterationAborted",
            "MapIterationFailed",
            "MapRunAborted",
            "MapRunFailed",
            "MapStateAborted",
            "MapStateFailed",
            "ParallelStateAborted",
            "ParallelStateFailed",
            "TaskFailed",
            "TaskStartFailed",
            "TaskStateAborted",
            "TaskSubmitFailed",
            "TaskTimedOut",
            "WaitStateAborted",
        }
    ),
    "OFF": frozenset(),
}
#: The detail fields that are execution data, left out without ``include_execution_data``.
EXECUTION_DATA_FIELDS: Final = (
    "input",
    "inputDetails",
    "output",
    "outputDetails",
    "parameters",
    "assignedVariables",
    "assignedVariablesDetails",
)


def logged(level: str, event_type: str) -> bool:
    """Whether Step Functions logs events of ``event_type`` at ``level`` (ALL, ERROR, ...)."""
    if level == "ALL":
        return True
    if level not in LEVEL_EVENT_TYPES:
        raise ValueError(f"Unknown log level {level!r}: expected ALL, ERROR, FATAL or OFF")
    return event_type in LEVEL_EVENT_TYPES[level]


def log_messages(
    execution_arn: str,
    history: Iterable[dict[str, Any]],
    *,
    level: str,
    include_execution_data: bool,
    redrive_count: int = 0,
) -> Iterator[str]:
    """The messages Step Functions puts in the log group for one execution's history.

    Parameters
    ----------
    execution_arn
        The execution's ARN, which every message carries.
    history
        Its history events, as ``GetExecutionHistory`` returns them (boto3's shapes).
    level, include_execution_data
        The state machine's ``LoggingConfiguration``.
    redrive_count
        How many times the execution was redriven.
    """
    for event in history:
        if not logged(level, event["type"]):
            continue
        details = next(
            (dict(value) for name, value in event.items() if name.endswith("EventDetails")), {}
        )
        if not include_execution_data:
            for name in EXECUTION_DATA_FIELDS:
                details.pop(name, None)
        yield json.dumps(
            {
                "id": str(event["id"]),
                "type": event["type"],
                "details": details,
                "previous_event_id": str(event.get("previousEventId", 0)),
                "event_timestamp": str(int(event["timestamp"].timestamp() * 1000)),
                "execution_arn": execution_arn,
                "redrive_count": str(redrive_count),
            },
            separators=(",", ":"),
            default=str,
        )
