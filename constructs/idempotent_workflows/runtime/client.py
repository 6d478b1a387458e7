"""Start idempotent workflows so that a duplicate costs no state transition: ``WorkflowClient``.

``StartExecution`` on a Standard state machine is idempotent by execution name: the same name
and input while the execution runs answer that execution; a closed execution of the name, or
another input under it, is ``ExecutionAlreadyExists``; a name is reusable 90 days after its
execution closed. The client names each execution after the workflow's own idempotency key
(``k<sha256 of the record id>-<attempt>``), so a duplicate meets the first execution's name
and is answered from it (``DescribeExecution``) without entering a single state.

Attempts: a failed, timed-out or aborted execution (or a success older than the workflow's
record TTL) closes its name for good, so the next call takes the next attempt number. Every
caller that sees attempts 1 to n closed tries n+1, so racing retries share one execution.

Express workflows are not idempotent by name: the client runs them through the workflow's own
lock protocol (``StartSyncExecution``), as it does callers that do not use the client and
keys whose names have been freed (after 90 days the protocol's record answers, or the work
runs again once the record expired).

Imports the standard library only; boto3 when no Step Functions client is passed.
"""

from __future__ import annotations

import datetime
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..errors import IdempotencyError
from .description import WorkflowDescription, payload_mismatch_cause

#: Most attempts one key may take (each closed attempt costs a later call one StartExecution
#: and one DescribeExecution, both free of charge but throttled).
MAX_ATTEMPTS: Final = 100
#: Retries of the default client's calls (all attempts, the first included): botocore's
#: ``standard`` mode retries ``ThrottlingException`` with exponential backoff and jitter.
DEFAULT_TOTAL_MAX_ATTEMPTS: Final = 8
#: How often a ``DescribeExecution`` right after ``ExecutionAlreadyExists`` may miss the
#: execution (the call is eventually consistent) before the miss is an error.
_DESCRIBE_MISSES: Final = 5
_RUNNING: Final = "RUNNING"
_SUCCEEDED: Final = "SUCCEEDED"

Path = Literal["name", "protocol"]


class WorkflowFailed(Exception):  # noqa: N818  (a failed workflow, as the service names it)
    """The execution that answers the call closed without a result.

    Attributes
    ----------
    error : str
        The execution's error name (the work's own, or ``Idempotency.*``), or its status
        (``TIMED_OUT``, ``ABORTED``) when it has none.
    cause : str
        The execution's cause; may be empty.
    execution_arn : str
        The execution that closed so.
    status : str
        ``FAILED``, ``TIMED_OUT`` or ``ABORTED``.
    """

    def __init__(self, error: str, cause: str, execution_arn: str, status: str) -> None:
        super().__init__(f"{error}: {cause} ({execution_arn}, {status})")
        self.error = error
        self.cause = cause
        self.execution_arn = execution_arn
        self.status = status


class PayloadMismatchError(WorkflowFailed):
    """The key is taken by a request with other values of the payload fields.

    The workflow refuses such a duplicate with ``Idempotency.PayloadMismatch`` and the same
    cause; the client refuses it before anything runs.
    """


@dataclass(frozen=True)
class WorkflowResult:
    """What a call of the workflow answered.

    Attributes
    ----------
    output
        The execution's output (parsed JSON).
    execution_arn : str
        The execution that produced it.
    replayed : bool
        True when the answer came from an execution that had closed before this call, or that
        another input under the key started: no state ran for this call. False when this
        call started the execution or joined it while it ran with the same input (Step
        Functions answers a starter and a joiner alike), and on the protocol path.
    attempt : int or None
        The attempt number of the execution's name; None on the protocol path.
    path : {"name", "protocol"}
        ``name``: de-duplicated by execution name (Standard); ``protocol``: by the workflow's
        lock protocol (Express).
    """

    output: Any
    execution_arn: str
    replayed: bool
    attempt: int | None
    path: Path


@dataclass
class WorkflowExecution:
    """A started (or found) execution of the workflow: ``result`` waits for its outcome.

    Attributes
    ----------
    execution_arn : str
        The execution.
    attempt : int
        Its name's attempt number.
    replayed : bool
        See ``WorkflowResult.replayed``.
    """

    execution_arn: str
    attempt: int
    replayed: bool
    _client: WorkflowClient = field(repr=False)
    _described: Mapping[str, Any] | None = field(default=None, repr=False)

    def result(self, timeout: float = 60.0) -> WorkflowResult:
        """Wait for the execution's end and return its output.

        Polls ``DescribeExecution`` from ``poll_seconds``, doubling with jitter up to
        ``max_poll_seconds`` (the client's settings).

        Raises
        ------
        WorkflowFailed
            If the execution closed without a result (this call's next one runs it again).
        TimeoutError
            If it still runs after ``timeout`` seconds (it goes on; call ``result`` again).
        """
        described = self._described
        if described is None or described["status"] == _RUNNING:
            described = self._client._wait(self.execution_arn, timeout)
            self._described = described
        return _result(described, self.attempt, replayed=self.replayed, path="name")


class WorkflowClient:
    """Start an idempotent workflow; a duplicate is answered without entering a state.

    Parameters
    ----------
    state_machine_arn
        The workflow's state machine (built by this library: its definition carries the key
        rule, ``WorkflowDescription``).
    client
        A boto3 ``stepfunctions`` client allowed ``states:StartExecution``,
        ``states:DescribeExecution`` (on the machine's executions),
        ``states:DescribeStateMachine`` unless ``description`` is given, and
        ``states:StartSyncExecution`` for Express. Default: a new one whose calls retry
        throttling in botocore's ``standard`` mode, 8 attempts in all.
    description
        The workflow's outermost protocol, if you hold it (for example read once per process
        and kept); default one ``DescribeStateMachine`` call.
    poll_seconds, max_poll_seconds
        The first and the longest pause between two ``DescribeExecution`` calls while an
        execution runs. Default 1 and 10 seconds: ``DescribeExecution``'s quota refills at
        15 calls a second per account in the largest regions.

    Raises
    ------
    ValueError
        If the state machine holds no idempotency protocol.

    Examples
    --------
    >>> orders = WorkflowClient(state_machine_arn)                          # doctest: +SKIP
    >>> answer = orders.run({"OrderId": "o-1", ...}, timeout=300)           # doctest: +SKIP
    >>> answer.output, answer.replayed                                      # doctest: +SKIP
    """

    def __init__(
        self,
        state_machine_arn: str,
        *,
        client: Any = None,
        description: WorkflowDescription | None = None,
        poll_seconds: float = 1.0,
        max_poll_seconds: float = 10.0,
    ) -> None:
        self.state_machine_arn = state_machine_arn
        self._sfn = client if client is not None else default_client()
        if description is None:
            found = WorkflowDescription.describe(state_machine_arn, self._sfn)
            if not found:
                raise ValueError(
                    f"WorkflowClient: {state_machine_arn} holds no idempotency protocol (no "
                    "idempotent-workflows descriptor in its definition): pass the ARN of a "
                    "state machine built with IdempotentWorkflow or IdempotencyProtocol."
                )
            description = found[0]
        self.description = description
        self.poll_seconds = poll_seconds
        self.max_poll_seconds = max_poll_seconds

    # -- naming ---------------------------------------------------------------------------

    def execution_name(self, execution_input: Any, attempt: int = 1) -> str:
        """The execution name of ``execution_input``'s attempt: ``k<sha256>-<attempt>``.

        The hex digest is the one in the record id the workflow writes for the input.

        Raises
        ------
        InvalidKeyError
            If the workflow would refuse the input with ``Idempotency.InvalidKey``.
        """
        digest = self.description.record_id(execution_input).rpartition("#")[2]
        return f"k{digest}-{attempt}"

    def execution_arn(self, name: str) -> str:
        """The ARN of the execution ``name`` of this state machine."""
        machine = self.state_machine_arn.replace(":stateMachine:", ":execution:", 1)
        parts = machine.split(":")
        return ":".join(parts[:7]) + ":" + name  # a version or alias qualifier dropped

    # -- calls ----------------------------------------------------------------------------

    def run(self, execution_input: Any, *, timeout: float = 60.0) -> WorkflowResult:
        """Run the workflow for ``execution_input`` once, and return its outcome.

        Standard: started, joined while it runs, or answered from the closed execution of the
        same key. Express: ``StartSyncExecution`` (the protocol de-duplicates).

        Parameters
        ----------
        execution_input
            The input, as ``json.loads`` returns it.
        timeout
            Seconds to wait for the end.

        Raises
        ------
        InvalidKeyError
            The input has no key; nothing was started.
        PayloadMismatchError
            The key is taken by a request with other payload field values.
        WorkflowFailed
            The execution that answers closed without a result; the next call retries.
        TimeoutError
            The execution still runs after ``timeout`` seconds.
        """
        if self.description.workflow_type == "EXPRESS":
            answer = self._sfn.start_sync_execution(
                stateMachineArn=self.state_machine_arn, input=_text(execution_input)
            )
            return _result(answer, None, replayed=False, path="protocol")
        return self.start(execution_input).result(timeout)

    def start(self, execution_input: Any) -> WorkflowExecution:
        """Start the workflow for ``execution_input`` (or find its execution); do not wait.

        Standard workflows only (Step Functions does not describe Express executions).

        Raises
        ------
        ValueError
            If the workflow is Express: use ``run``.
        InvalidKeyError, PayloadMismatchError
            As ``run``.
        RuntimeError
            If ``MAX_ATTEMPTS`` attempts of the key all closed without a result.
        """
        if self.description.workflow_type == "EXPRESS":
            raise ValueError(
                "WorkflowClient.start: an Express workflow's executions cannot be described "
                "(Step Functions keeps their history in CloudWatch Logs only): use run(), "
                "which waits through StartSyncExecution."
            )
        text = _text(execution_input)
        self.execution_name(execution_input)  # InvalidKeyError before anything is sent
        for attempt in range(1, MAX_ATTEMPTS + 1):
            name = self.execution_name(execution_input, attempt)
            try:
                started = self._sfn.start_execution(
                    stateMachineArn=self.state_machine_arn, name=name, input=text
                )
            except Exception as error:
                if _error_code(error) != "ExecutionAlreadyExists":
                    raise
            else:  # started, or joined the running execution of this name and input
                return WorkflowExecution(started["executionArn"], attempt, False, self)
            described = self._describe(self.execution_arn(name))
            status = described["status"]
            if status == _RUNNING or (status == _SUCCEEDED and self._honoured(described)):
                self._check_payload(execution_input, described)
                replayed = status == _SUCCEEDED or described.get("input") != text
                arn = described["executionArn"]
                return WorkflowExecution(arn, attempt, replayed, self, described)
            # FAILED, TIMED_OUT, ABORTED, or a success the workflow no longer honours.
        raise RuntimeError(
            f"WorkflowClient: {MAX_ATTEMPTS} executions of "
            f"{self.description.record_id(execution_input)} closed without a result: look at "
            "the last one's failure, and send a new key."
        )

    # -- helpers --------------------------------------------------------------------------

    def _honoured(self, described: Mapping[str, Any]) -> bool:
        """Whether a success is recent enough that the workflow would answer it (record TTL)."""
        stopped: datetime.datetime = described["stopDate"]
        age = datetime.datetime.now(tz=stopped.tzinfo or datetime.UTC) - stopped
        return age.total_seconds() < self.description.record_ttl_seconds

    def _check_payload(self, execution_input: Any, described: Mapping[str, Any]) -> None:
        """Refuse, as the workflow would, a duplicate with other payload field values."""
        mine = self.description.payload_fingerprint(execution_input)
        theirs = self.description.payload_fingerprint(json.loads(described["input"]))
        if mine == theirs:
            return
        raise PayloadMismatchError(
            IdempotencyError.PAYLOAD_MISMATCH.value,
            payload_mismatch_cause(self.description.payload_fields),
            described["executionArn"],
            described["status"],
        )

    def _describe(self, execution_arn: str) -> Mapping[str, Any]:
        """DescribeExecution; a miss right after ``ExecutionAlreadyExists`` is retried."""
        for miss in range(_DESCRIBE_MISSES + 1):
            try:
                described: Mapping[str, Any] = self._sfn.describe_execution(
                    executionArn=execution_arn
                )
                return described
            except Exception as error:
                if _error_code(error) != "ExecutionDoesNotExist" or miss == _DESCRIBE_MISSES:
                    raise
                time.sleep(0.1 * 2**miss * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, execution_arn: str, timeout: float) -> Mapping[str, Any]:
        deadline = time.monotonic() + timeout
        pause = self.poll_seconds
        while True:
            described = self._describe(execution_arn)
            if described["status"] != _RUNNING:
                return described
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{execution_arn} still runs after {timeout} s: call result() again, or "
                    "wait for its Step Functions Execution Status Change event."
                )
            time.sleep(min(left, pause * random.uniform(0.5, 1.0)))
            pause = min(pause * 2, self.max_poll_seconds)


def default_client() -> Any:
    """A boto3 ``stepfunctions`` client whose calls retry throttling with backoff.

    botocore's ``standard`` retry mode (exponential backoff with full jitter, at most 20 s
    apart) with ``DEFAULT_TOTAL_MAX_ATTEMPTS`` attempts in all.
    """
    import boto3  # only here: the rest of the runtime loads without it
    from botocore.config import Config

    retries: Any = {"mode": "standard", "total_max_attempts": DEFAULT_TOTAL_MAX_ATTEMPTS}
    return boto3.client("stepfunctions", config=Config(retries=retries))


def _text(execution_input: Any) -> str:
    """The JSON text sent: compact, non-ASCII kept, members in the caller's order."""
    return json.dumps(execution_input, separators=(",", ":"), ensure_ascii=False)


def _error_code(error: Exception) -> str | None:
    """The service error code of a botocore ``ClientError``; None for anything else."""
    response = getattr(error, "response", None)
    if not isinstance(response, Mapping):
        return None
    code = response.get("Error", {}).get("Code")
    return code if isinstance(code, str) else None


def _result(
    described: Mapping[str, Any], attempt: int | None, *, replayed: bool, path: Path
) -> WorkflowResult:
    status = described["status"]
    if status != _SUCCEEDED:
        raise WorkflowFailed(
            described.get("error") or status,
            described.get("cause") or "",
            described["executionArn"],
            status,
        )
    return WorkflowResult(
        output=json.loads(described["output"]),
        execution_arn=described["executionArn"],
        replayed=replayed,
        attempt=attempt,
        path=path,
    )
