"""What the local engine deployed from one stack, and the way to run and read it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..apigateway.server import ApiServer, RestApiDefinition, start_sync_integration
from ..logs.metric_filters import metric_counts, state_machine_logging
from ..logs.metric_filters import metric_filters as template_metric_filters
from ..run.pipes import PipeDefinition
from .functions import LocalFunction
from .naming import ACCOUNT
from .template import Environment

if TYPE_CHECKING:
    from ..engine import LocalEngine
    from ..run.execution import Execution


@dataclass
class DeployedStack:
    """What the local engine deployed from one stack, by logical id.

    Attributes
    ----------
    name
        The stack name.
    tables
        Table name of each ``AWS::DynamoDB::Table``.
    functions
        The local function of each ``AWS::Lambda::Function``.
    state_machines
        ARN of each ``AWS::StepFunctions::StateMachine``.
    template
        The synthesized template it was deployed from.
    queues
        URL of each ``AWS::SQS::Queue``.
    topics
        ARN of each ``AWS::SNS::Topic``.
    pipes
        Each ``AWS::Pipes::Pipe`` (from a queue to a state machine), which the engine runs
        while it is open: a message sent to the queue starts the state machine.
    """

    name: str
    tables: dict[str, str]
    functions: dict[str, LocalFunction]
    state_machines: dict[str, str]
    _engine: LocalEngine = field(repr=False)
    template: dict[str, Any] = field(default_factory=dict, repr=False)
    _environment: Environment | None = field(default=None, repr=False)
    queues: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    pipes: dict[str, PipeDefinition] = field(default_factory=dict)

    @staticmethod
    def _only(kind: str, found: dict[str, Any], prefix: str) -> Any:
        matches = [value for key, value in found.items() if key.startswith(prefix)]
        if len(matches) != 1:
            raise LookupError(
                f"Expected one {kind} whose logical id starts with {prefix!r}, "
                f"found {len(matches)} among {sorted(found)}"
            )
        return matches[0]

    @property
    def engine(self) -> LocalEngine:
        """The engine the stack is deployed in: its boto3 clients (``sfn``, ``sqs``, ...)."""
        return self._engine

    def state_machine(self, prefix: str = "") -> str:
        """ARN of the one state machine whose logical id starts with ``prefix``."""
        arn: str = self._only("state machine", self.state_machines, prefix)
        return arn

    def table(self, prefix: str = "") -> str:
        """Name of the one table whose logical id starts with ``prefix``."""
        name: str = self._only("table", self.tables, prefix)
        return name

    def function(self, prefix: str) -> LocalFunction:
        """The one function whose logical id starts with ``prefix``."""
        function: LocalFunction = self._only("function", self.functions, prefix)
        return function

    def queue(self, prefix: str = "") -> str:
        """URL of the one queue whose logical id starts with ``prefix``."""
        url: str = self._only("queue", self.queues, prefix)
        return url

    def topic(self, prefix: str = "") -> str:
        """ARN of the one topic whose logical id starts with ``prefix``."""
        arn: str = self._only("topic", self.topics, prefix)
        return arn

    def receive(self, prefix: str = "", *, timeout: float = 5.0) -> list[Any]:
        """Take the messages off the one queue whose logical id starts with ``prefix``.

        See ``LocalEngine.receive``.
        """
        return self._engine.receive(self.queue(prefix), timeout=timeout)

    def published(self, prefix: str = "") -> list[dict[str, Any]]:
        """What the one topic whose logical id starts with ``prefix`` was sent.

        See ``LocalEngine.published``.
        """
        return self._engine.published(self.topic(prefix))

    def start(
        self,
        execution_input: Any = None,
        *,
        name: str | None = None,
        prefix: str = "",
        test_case: str | None = None,
    ) -> Execution:
        """Start an execution of the stack's state machine; see ``LocalEngine.start``."""
        return self._engine.start(
            self.state_machine(prefix), execution_input, name=name, test_case=test_case
        )

    def run(
        self,
        execution_input: Any = None,
        *,
        name: str | None = None,
        prefix: str = "",
        test_case: str | None = None,
    ) -> Execution:
        """Start an execution and wait for its end; see ``LocalEngine.run``."""
        return self._engine.run(
            self.state_machine(prefix), execution_input, name=name, test_case=test_case
        )

    def run_sync(
        self,
        execution_input: Any = None,
        *,
        name: str | None = None,
        prefix: str = "",
        test_case: str | None = None,
    ) -> Execution:
        """Run an Express execution with StartSyncExecution; see ``LocalEngine.run_sync``."""
        return self._engine.run_sync(
            self.state_machine(prefix), execution_input, name=name, test_case=test_case
        )

    def items(self, prefix: str = "") -> list[dict[str, Any]]:
        """Every item of the table, as plain Python values."""
        return self._engine.items(self.table(prefix))

    def serve_api(self, *, callers: Mapping[str, str] | None = None) -> ApiServer:
        """Serve the stack's REST API on ``127.0.0.1`` (a free port), as API Gateway would.

        Use it as a context manager; inside, ``url`` is the stage's base URL. The mapping
        templates are the ones in the synthesized template, rendered with airspeed, and the
        integration calls StartSyncExecution on this engine. See ``testing.apigateway.server``.

        Parameters
        ----------
        callers
            The principal (an IAM ARN) of each access key that signs requests, for example
            ``{"AKIA2": "arn:aws:sts::123456789012:assumed-role/app/session-2"}``; another
            key is an IAM user named after it. Default: none.
        """
        assert self._environment is not None
        return ApiServer(
            RestApiDefinition.from_template(self.template, self._environment),
            start_sync_integration(self._engine.sfn),
            account=ACCOUNT,
            callers=callers,
        )

    def invocations(self) -> dict[str, int]:
        """Invocation count of each function, by logical id."""
        return {key: function.invocations for key, function in self.functions.items()}

    def executions(self, prefix: str = "") -> list[Execution]:
        """Executions of the stack's state machine, oldest first; see ``LocalEngine.executions``."""
        return self._engine.executions(self.state_machine(prefix))

    def metric_counts(
        self,
        executions: Iterable[Execution],
        *,
        level: str | None = None,
        include_execution_data: bool | None = None,
    ) -> dict[str, Counter[str]]:
        """What the stack's metric filters count in the executions' logs, as CloudWatch would.

        Each execution's log events are derived from its history, as its state machine's
        ``LoggingConfiguration`` writes them; each metric filter of the template counts the
        events of the log group it reads (``testing.logs`` evaluates the JSON patterns).

        Parameters
        ----------
        executions
            Executions of the stack's state machines.
        level, include_execution_data
            Log as if the state machines were configured so. Default: as the template says.

        Returns
        -------
        dict
            Each filter's count, by metric namespace and metric name (0 where none matched).
        """
        logging = state_machine_logging(self.template)
        by_arn = {arn: logging.get(logical_id) for logical_id, arn in self.state_machines.items()}
        logs = []
        for execution in executions:
            configured = by_arn.get(execution.state_machine_arn)
            if configured is None:
                raise LookupError(
                    f"Execution {execution.arn} did not run a state machine of {self.name} that "
                    "logs: count the executions of this stack's logging state machines."
                )
            if level is not None:
                configured = replace(configured, level=level)
            if include_execution_data is not None:
                configured = replace(configured, include_execution_data=include_execution_data)
            logs.append((configured, execution.arn, execution.history))
        return metric_counts(template_metric_filters(self.template), logs)
