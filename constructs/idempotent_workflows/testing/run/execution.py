"""Executions and what they did, on the local engine or on an emulator such as MiniStack.

``Execution`` is the one result type: its status, output or error, its history and the states
it entered, read through the Step Functions API of wherever it ran. Where it ran is an
``Endpoint``: the local engine (which signals each execution's end) or any Step Functions
client (``PolledEndpoint``, which asks DescribeExecution until the end). ``run_execution``
runs one execution to its end through a client, as a deployed state machine is run.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ..logs.execution_logs import log_messages

#: How often ``PolledEndpoint`` asks whether an execution still runs (seconds).
_POLL_SECONDS: Final = 0.02


class Endpoint(Protocol):
    """Where executions run: a Step Functions client, and a way to wait for an end."""

    @property
    def sfn(self) -> Any:
        """A boto3 Step Functions client."""

    def described_at_end(self, execution_arn: str, timeout: float) -> dict[str, Any] | None:
        """DescribeExecution once the execution ended; ``None`` if ``timeout`` s pass first."""


@dataclass(frozen=True)
class PolledEndpoint:
    """A Step Functions client, whose executions' ends are found by asking until they come.

    Attributes
    ----------
    sfn
        A boto3 Step Functions client (of MiniStack, for example).
    """

    sfn: Any

    def described_at_end(self, execution_arn: str, timeout: float) -> dict[str, Any] | None:
        """Ask DescribeExecution every 20 ms until the execution no longer runs."""
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_SECONDS)


def input_text(execution_input: Any) -> str:
    """An execution input as StartExecution takes it: JSON text, ``{}`` for none.

    Non-ASCII characters as themselves, as ``JSON.stringify`` writes them: Step Functions
    measures the input's UTF-8 bytes, in which ``\u00e9`` is six times ``é``'s one character.
    """
    return json.dumps({} if execution_input is None else execution_input, ensure_ascii=False)


def start_request(
    state_machine_arn: str, execution_input: Any, *, name: str | None, test_case: str | None
) -> dict[str, str]:
    """The parameters of StartExecution (or StartSyncExecution) for an execution.

    A test case is named after ``#`` in the state machine ARN, as Step Functions Local reads
    it; without a name, the execution gets a random one.
    """
    return {
        "stateMachineArn": (
            state_machine_arn if test_case is None else f"{state_machine_arn}#{test_case}"
        ),
        "name": name or uuid.uuid4().hex,
        "input": input_text(execution_input),
    }


@dataclass
class Execution:
    """One execution of a state machine, on the local engine or on an emulator.

    Attributes
    ----------
    arn
        The execution ARN.
    seconds
        How long the call that ran it to its end took, in seconds (``run``, ``run_sync``,
        ``run_execution``); ``None`` for an execution that was only started.
    """

    arn: str
    _endpoint: Endpoint = field(repr=False)
    _description: dict[str, Any] | None = field(default=None, repr=False)
    _history: list[dict[str, Any]] | None = field(default=None, repr=False)
    seconds: float | None = None

    def wait(self, timeout: float = 120.0) -> Execution:
        """Block until the execution ends; return it.

        Raises
        ------
        TimeoutError
            If it still runs after ``timeout`` seconds.
        """
        described = self._endpoint.described_at_end(self.arn, timeout)
        if described is None:
            raise TimeoutError(f"Execution {self.arn} still runs after {timeout} s")
        self._description = described
        return self

    def _ended(self) -> dict[str, Any]:
        return self._description or self.wait()._description  # type: ignore[return-value]

    @property
    def status(self) -> str:
        """``SUCCEEDED``, ``FAILED``, ``TIMED_OUT`` or ``ABORTED`` (waits for the end)."""
        status: str = self._ended()["status"]
        return status

    @property
    def output(self) -> Any:
        """The output, parsed from JSON (``None`` unless it succeeded)."""
        output = self._ended().get("output")
        return None if output is None else json.loads(output)

    @property
    def error(self) -> str | None:
        """The error name of a failed execution."""
        return self._ended().get("error")

    @property
    def cause(self) -> str | None:
        """The cause of a failed execution."""
        return self._ended().get("cause")

    @property
    def history(self) -> list[dict[str, Any]]:
        """The execution's history events, oldest first."""
        if self._history is None:
            self._ended()
            events: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"executionArn": self.arn, "maxResults": 1000}
            while True:
                page = self._endpoint.sfn.get_execution_history(**kwargs)
                events.extend(page["events"])
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
            self._history = events
        return self._history

    @property
    def state_machine_arn(self) -> str:
        """The ARN of the state machine it ran (waits for the end)."""
        arn: str = self._ended()["stateMachineArn"]
        return arn

    def log_events(self, *, level: str = "ALL", include_execution_data: bool = False) -> list[str]:
        """The messages Step Functions would log for it, at ``level`` (ALL, ERROR, FATAL, OFF).

        One JSON message per history event the level logs, as CloudWatch Logs receives them
        (``testing.logs.execution_logs`` describes the shape).
        """
        return list(
            log_messages(
                self.arn,
                self.history,
                level=level,
                include_execution_data=include_execution_data,
            )
        )

    @property
    def states_entered(self) -> list[str]:
        """Names of the states entered, in order; each one is a billed transition in Standard."""
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in self.history
            if event["type"].endswith("StateEntered")
        ]

    def _tasks(self, resource_type: str) -> list[str]:
        return [
            event["taskScheduledEventDetails"]["resource"]
            for event in self.history
            if event["type"] == "TaskScheduled"
            and event["taskScheduledEventDetails"]["resourceType"] == resource_type
        ]

    @property
    def lambda_invocations(self) -> int:
        """Lambda invocations scheduled by this execution."""
        return len(self._tasks("lambda"))

    @property
    def dynamodb_calls(self) -> list[str]:
        """DynamoDB actions called by this execution, in order (``updateItem``, ...)."""
        return self._tasks("dynamodb")


def run_execution(
    sfn: Any, state_machine_arn: str, execution_input: Any, *, express: bool = False
) -> Execution:
    """Run one execution to its end through a Step Functions client; return it.

    Standard: StartExecution, then DescribeExecution until it ends; the history is read when
    asked for. Express: StartSyncExecution, and no history is read (Step Functions keeps
    Express histories only in CloudWatch Logs): ``history`` and ``states_entered`` are empty.
    ``seconds`` is how long this call took.

    Parameters
    ----------
    sfn
        A boto3 Step Functions client, for example ``MiniStack.client("stepfunctions")``.
    state_machine_arn
        The state machine to run.
    execution_input
        Its input (any JSON value; ``None`` is ``{}``).
    express
        Run it with StartSyncExecution.
    """
    started = time.perf_counter()
    endpoint = PolledEndpoint(sfn)
    payload = input_text(execution_input)
    if express:
        reply = sfn.start_sync_execution(stateMachineArn=state_machine_arn, input=payload)
        execution = Execution(reply["executionArn"], endpoint, _description=reply, _history=[])
    else:
        started_execution = sfn.start_execution(stateMachineArn=state_machine_arn, input=payload)
        execution = Execution(started_execution["executionArn"], endpoint).wait(math.inf)
    execution.seconds = time.perf_counter() - started
    return execution
