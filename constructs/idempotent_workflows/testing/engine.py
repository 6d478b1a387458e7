"""The local engine: deploy synthesized stacks into an in-process AWS (moto) and run them."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from unittest import mock

import boto3
from aws_cdk import Stack, Stage
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda.models import LambdaBackend
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.mocking.mock_config import MockTestCase

from . import messaging
from .api_server import ApiServer, RestApiDefinition, service_answer
from .completion import Completions
from .fast_paths import executions_in_this_thread
from .faults import MockConfig, MockConfigSource
from .hermetic import isolated_from_aws
from .lambda_runtime import ENVIRONMENT_LOCK, LocalFunction
from .moto_patches import patched_moto
from .template import Environment, resolve

ACCOUNT: Final = "123456789012"
_DESERIALIZER: Final = TypeDeserializer()
#: What the engine creates besides queues and topics (``messaging.deploy``); other resources
#: only get names and ARNs (REST APIs are served from the template by
#: ``DeployedStack.serve_api``).
_DEPLOYED_KINDS: Final = frozenset(
    {"AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"}
)


def _with_test_case(state_machine_arn: str, test_case: str | None) -> str:
    """The ARN that selects a test case, as Step Functions Local reads it."""
    return state_machine_arn if test_case is None else f"{state_machine_arn}#{test_case}"


def _input_text(execution_input: Any) -> str:
    return json.dumps({} if execution_input is None else execution_input)


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values (numbers as int or float)."""
    value = {key: _DESERIALIZER.deserialize(attr) for key, attr in item.items()}
    plain: dict[str, Any] = json.loads(
        json.dumps(value, default=lambda d: int(d) if d == int(d) else float(d))
    )
    return plain


@dataclass
class Execution:
    """One execution of a state machine in the local engine.

    Attributes
    ----------
    arn
        The execution ARN.
    """

    arn: str
    _engine: LocalEngine = field(repr=False)
    _description: dict[str, Any] | None = field(default=None, repr=False)
    _history: list[dict[str, Any]] | None = field(default=None, repr=False)

    def wait(self, timeout: float = 120.0) -> Execution:
        """Block until the execution ends; return it.

        Raises
        ------
        TimeoutError
            If it still runs after ``timeout`` seconds.
        """
        if not self._engine._completions.wait(self.arn, timeout):
            raise TimeoutError(f"Execution {self.arn} still runs after {timeout} s")
        self._description = self._engine.sfn.describe_execution(executionArn=self.arn)
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
                page = self._engine.sfn.get_execution_history(**kwargs)
                events.extend(page["events"])
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
            self._history = events
        return self._history

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

    def serve_api(self) -> ApiServer:
        """Serve the stack's REST API on ``127.0.0.1`` (a free port), as API Gateway would.

        Use it as a context manager; inside, ``url`` is the stage's base URL. The mapping
        templates are the ones in the synthesized template, rendered with airspeed, and the
        integration calls StartSyncExecution on this engine. See ``testing.api_server``.
        """
        assert self._environment is not None
        return ApiServer(
            RestApiDefinition.from_template(self.template, self._environment),
            self._engine.start_sync_execution,
            account=ACCOUNT,
        )

    def invocations(self) -> dict[str, int]:
        """Invocation count of each function, by logical id."""
        return {key: function.invocations for key, function in self.functions.items()}

    def executions(self, prefix: str = "") -> list[Execution]:
        """Executions of the stack's state machine, oldest first; see ``LocalEngine.executions``."""
        return self._engine.executions(self.state_machine(prefix))


class LocalEngine:
    """An in-process AWS (moto) that runs synthesized state machines, with no account.

    Use it as a context manager. Inside, :meth:`deploy` a synthesized stack (its tables,
    Lambda functions and state machines), then :meth:`run` executions and inspect them.
    Lambda functions run their real handlers in this process; Wait states sleep
    ``wait_scale`` times their duration. While it is open, the user's AWS settings
    (``AWS_*`` variables, profiles, endpoint overrides) are set aside and restored after, so
    that nothing reaches AWS.

    Parameters
    ----------
    wait_scale
        Factor applied to every Wait state. Default ``0.001``: a 10-second poll takes 10 ms.
    region
        The region of the local AWS. Default ``"us-east-1"``.
    mock_config
        Fault injection: a mock configuration in Step Functions Local's shape (a mapping, or
        the path of a JSON file); executions started with ``test_case=`` use its mocked
        responses. See :mod:`idempotent_workflows.testing.faults`.

    Attributes
    ----------
    wait_scale : float
        May be changed between executions, for example to let slow work span several polls.
    mock_config : MockConfig or None
        The mock configuration; replace it with :meth:`load_mock_config`.
    sfn, dynamodb, sqs, sns
        boto3 clients of the local AWS (inside the ``with`` block), to arrange or inspect state
        that the API above does not cover, or to answer task tokens
        (``sfn.send_task_success``, ``send_task_failure``, ``send_task_heartbeat``).

    Examples
    --------
    >>> with LocalEngine() as engine:                                    # doctest: +SKIP
    ...     deployed = engine.deploy(my_stack)
    ...     execution = deployed.run({"TransactionId": "t-1"})
    ...     assert execution.status == "SUCCEEDED"
    """

    def __init__(
        self,
        *,
        wait_scale: float = 0.001,
        region: str = "us-east-1",
        mock_config: MockConfigSource | None = None,
    ) -> None:
        self.wait_scale = wait_scale
        self.region = region
        self._machines: list[tuple[str, str]] = []  # (logical id, ARN) of each state machine
        self.load_mock_config(mock_config)
        self._functions: dict[str, LocalFunction] = {}
        self._names = Counter[str]()
        self._stack: contextlib.ExitStack | None = None
        self._completions = Completions()

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LocalEngine:
        stack = contextlib.ExitStack()
        stack.enter_context(isolated_from_aws(self.region))
        stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        stack.enter_context(
            patched_moto(
                lambda: self.wait_scale,
                self._completions.ended,
                self._test_case,
                self._completions.wait,
            )
        )
        # moto logs every failed state with its whole parse tree; the history says the same.
        interpreter_log = logging.getLogger("moto.stepfunctions.parser")
        stack.callback(interpreter_log.setLevel, interpreter_log.level)
        interpreter_log.setLevel(logging.CRITICAL)

        def invoke(
            backend: Any, function_name: str, qualifier: Any, body: Any, *rest: Any
        ) -> bytes:
            return self._invoke(function_name, body, response_headers=rest[-1])

        for backend in (LambdaBackend, LambdaSimpleBackend):
            stack.enter_context(mock.patch.object(backend, "invoke", invoke))
        self._stack = stack
        session = boto3.session.Session(region_name=self.region)
        self.sfn = session.client("stepfunctions")
        self.dynamodb = session.client("dynamodb")
        self.sqs = session.client("sqs")
        self.sns = session.client("sns")
        return self

    def __exit__(self, *exc_info: Any) -> None:
        assert self._stack is not None
        try:
            self._stop_running_executions()
        finally:
            # A handler still running in another thread holds the lock while os.environ
            # carries its variables: the user's settings are restored only after it put its
            # own back.
            with ENVIRONMENT_LOCK:
                self._stack.close()
            self._stack = None

    def _stop_running_executions(self, timeout: float = 30.0) -> None:
        """Stop the executions still running and wait for their ends (at most ``timeout`` s).

        An execution that outlived the engine would call the services after the mocks and the
        hermetic environment are gone: with the user's credentials, against AWS.
        """
        machines = {
            machine["stateMachineArn"]
            for page in self.sfn.get_paginator("list_state_machines").paginate()
            for machine in page["stateMachines"]
        }
        running = [
            execution["executionArn"]
            for _, machine in self._machines
            if machine in machines  # a test may have deleted one
            for page in self.sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine, statusFilter="RUNNING"
            )
            for execution in page["executions"]
        ]
        deadline = time.monotonic() + timeout
        for arn in running:
            self.sfn.stop_execution(executionArn=arn, error="LocalEngine.Closed")
        for arn in running:
            self._completions.wait(arn, max(0.0, deadline - time.monotonic()))

    # -- deployment -------------------------------------------------------------------------

    def deploy(self, stack: Stack) -> DeployedStack:
        """Deploy a CDK stack, synthesizing its app first if needed."""
        stage = Stage.of(stack)
        if stage is None:
            raise ValueError(f"Stack {stack.stack_name} belongs to no App or Stage: add it to one.")
        assembly = stage.synth()
        artifact = assembly.get_stack_artifact(stack.artifact_id)
        return self.deploy_template(
            artifact.template, stack_name=artifact.stack_name, asset_dir=Path(assembly.directory)
        )

    def deploy_cloud_assembly(self, directory: str | Path, stack_name: str) -> DeployedStack:
        """Deploy a stack from a cloud assembly on disk, such as ``cdk.out``."""
        directory = Path(directory)
        template = json.loads((directory / f"{stack_name}.template.json").read_text())
        return self.deploy_template(template, stack_name=stack_name, asset_dir=directory)

    def deploy_template(
        self, template: dict[str, Any], *, stack_name: str, asset_dir: Path
    ) -> DeployedStack:
        """Deploy the tables, Lambda functions, queues, topics and state machines of a template.

        Other resources (roles, policies, log groups) are given names and ARNs so that
        references to them resolve, but nothing is created for them.
        """
        resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        refs, arns = {}, {}
        for logical_id, resource in resources.items():
            refs[logical_id], arns[logical_id] = self._physical_ids(
                stack_name, logical_id, resource
            )
        env = Environment(
            stack_name=stack_name,
            region=self.region,
            account=ACCOUNT,
            refs=refs,
            arns=arns,
            attributes={
                logical_id: messaging.attributes(
                    resource["Type"], refs[logical_id], arns[logical_id]
                )
                for logical_id, resource in resources.items()
            },
        )
        queues, topics = messaging.deploy(resources, env, self.sqs, self.sns)
        tables, functions, machines = {}, {}, {}
        for logical_id, resource in resources.items():
            kind = resource["Type"]
            if kind not in _DEPLOYED_KINDS:
                continue
            properties = resolve(resource.get("Properties", {}), env)
            if kind == "AWS::DynamoDB::Table":
                self._create_table(refs[logical_id], properties)
                tables[logical_id] = refs[logical_id]
            elif kind == "AWS::Lambda::Function":
                functions[logical_id] = self._create_function(
                    logical_id, refs[logical_id], properties, asset_dir
                )
            elif kind == "AWS::StepFunctions::StateMachine":
                machines[logical_id] = self.sfn.create_state_machine(
                    name=refs[logical_id].rsplit(":", 1)[-1],
                    definition=properties["DefinitionString"],
                    roleArn=properties.get("RoleArn", f"arn:aws:iam::{ACCOUNT}:role/local"),
                    type=properties.get("StateMachineType", "STANDARD"),
                )["stateMachineArn"]
                self._machines.append((logical_id, machines[logical_id]))
        return DeployedStack(
            stack_name,
            tables,
            functions,
            machines,
            self,
            template=template,
            _environment=env,
            queues=queues,
            topics=topics,
        )

    def _physical_ids(
        self, stack_name: str, logical_id: str, resource: dict[str, Any]
    ) -> tuple[str, str]:
        """(Ref value, ARN) of a resource, as CloudFormation would name it."""
        kind = resource["Type"]
        name = f"{stack_name}-{logical_id}"[:64]
        self._names[name] += 1
        if self._names[name] > 1:  # the same stack deployed twice in one engine
            name = f"{name[:58]}-{self._names[name]}"
        name = messaging.physical_name(kind, name, resource.get("Properties", {}))
        service = kind.split("::")[1].lower()
        arns = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{name}",
            "AWS::StepFunctions::StateMachine": (
                f"arn:aws:states:{self.region}:{ACCOUNT}:stateMachine:{name}"
            ),
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{name}:*",
        }
        arn = arns.get(kind, f"arn:aws:{service}:{self.region}:{ACCOUNT}:{name}")
        ref = messaging.ref(kind, name, arn, region=self.region, account=ACCOUNT)
        if ref is None:
            ref = arn if kind == "AWS::StepFunctions::StateMachine" else name
        return ref, arn

    def _create_table(self, name: str, properties: dict[str, Any]) -> None:
        self.dynamodb.create_table(
            TableName=name,
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode=properties.get("BillingMode", "PAY_PER_REQUEST"),
        )
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            self.dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)

    def _create_function(
        self, logical_id: str, name: str, properties: dict[str, Any], asset_dir: Path
    ) -> LocalFunction:
        key = properties.get("Code", {}).get("S3Key", "")
        code_dir = asset_dir / f"asset.{key.removesuffix('.zip')}"
        if not code_dir.is_dir():
            raise FileNotFoundError(
                f"Function {logical_id}: no asset folder {code_dir}; the local engine runs "
                "functions whose code comes from a folder asset (Code.from_asset)."
            )
        function = LocalFunction(
            logical_id=logical_id,
            name=name,
            code_dir=code_dir,
            handler=properties["Handler"],
            environment=properties.get("Environment", {}).get("Variables", {}),
        )
        self._functions[name] = function
        return function

    # -- running ----------------------------------------------------------------------------

    def start(
        self,
        state_machine_arn: str,
        execution_input: Any = None,
        *,
        name: str | None = None,
        test_case: str | None = None,
    ) -> Execution:
        """Start an execution with ``execution_input`` (any JSON value; default ``{}``).

        Parameters
        ----------
        state_machine_arn
            The state machine to run.
        execution_input
            Its input.
        name
            The execution name; default a random one. Standard executions are unique by name.
        test_case
            A test case of the mock configuration (``mock_config``): its mocked responses
            replace the service calls of the states it names. Through boto3, the same is
            ``stateMachineArn="<arn>#<test case>"``, as in Step Functions Local.
        """
        started = self.sfn.start_execution(
            stateMachineArn=_with_test_case(state_machine_arn, test_case),
            name=name or uuid.uuid4().hex,
            input=_input_text(execution_input),
        )
        return Execution(started["executionArn"], self)

    def run(
        self,
        state_machine_arn: str,
        execution_input: Any = None,
        *,
        name: str | None = None,
        test_case: str | None = None,
    ) -> Execution:
        """Start an execution and wait for its end; it runs in the calling thread.

        Takes the parameters of :meth:`start`.
        """
        with executions_in_this_thread():
            execution = self.start(
                state_machine_arn, execution_input, name=name, test_case=test_case
            )
        return execution.wait()

    def run_sync(
        self,
        state_machine_arn: str,
        execution_input: Any = None,
        *,
        name: str | None = None,
        test_case: str | None = None,
    ) -> Execution:
        """Run an Express execution through StartSyncExecution, as a synchronous caller would.

        Takes the parameters of :meth:`start`. The returned execution's status is
        ``SUCCEEDED``, ``FAILED`` or ``TIMED_OUT``, with the output or the error and cause
        that StartSyncExecution answered.

        Raises
        ------
        botocore.exceptions.ClientError
            ``StateMachineTypeNotSupported`` for a Standard state machine, as in AWS.
        """
        answer = self.sfn.start_sync_execution(
            stateMachineArn=_with_test_case(state_machine_arn, test_case),
            name=name or uuid.uuid4().hex,
            input=_input_text(execution_input),
        )
        return Execution(answer["executionArn"], self, _description=answer)

    def load_mock_config(self, source: MockConfigSource | None) -> None:
        """Use a mock configuration (a mapping or a JSON file path), or none; see ``faults``."""
        self.mock_config = None if source is None else MockConfig.load(source)

    def _test_case(self, state_machine_arn: str, test_case: str) -> MockTestCase:
        if self.mock_config is None:
            raise LookupError(f"No mock configuration is loaded, so no test case {test_case!r}")
        names = [state_machine_arn.rsplit(":", 1)[-1]]
        names += [logical_id for logical_id, arn in self._machines if arn == state_machine_arn]
        return self.mock_config.test_case(names, test_case)

    def start_sync_execution(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer a StartSyncExecution request body as the service does: (HTTP status, JSON).

        The integration of a local REST API calls it; a refused request answers the service's
        error (``__type``, ``message``) with its HTTP status.
        """
        try:
            answer = self.sfn.start_sync_execution(**request)
        except ClientError as error:
            details = error.response["Error"]
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            return status, {"__type": details["Code"], "message": details.get("Message", "")}
        return 200, service_answer(answer)

    def receive(self, queue_url: str, *, timeout: float = 5.0) -> list[Any]:
        """Take the messages off a queue, as a worker would; wait for them if there are none.

        Parameters
        ----------
        queue_url
            The queue (``DeployedStack.queue`` or ``queues`` gives its URL).
        timeout
            Seconds (real ones) to wait for at least one message.

        Returns
        -------
        list
            The bodies of up to 10 messages, each parsed from JSON when it is JSON; empty if
            none arrived in time. They are deleted from the queue. A state machine that waits
            for a token puts ``$states.context.Task.Token`` in the body; answer it with
            ``sfn.send_task_success``, ``send_task_failure`` or ``send_task_heartbeat``.
        """
        return messaging.receive(self.sqs, queue_url, timeout)

    def published(self, topic_arn: str) -> list[dict[str, Any]]:
        """What a topic was sent (SNS Publish), oldest first.

        Returns
        -------
        list of dict
            ``MessageId``, ``Message`` (parsed from JSON when it is JSON), ``Subject`` (or
            ``None``) and ``MessageAttributes`` as a subscriber receives them
            (``{"name": {"Type": "String", "Value": "..."}}``).
        """
        return messaging.published(topic_arn, region=self.region, account=ACCOUNT)

    def items(self, table_name: str) -> list[dict[str, Any]]:
        """Every item of a table, as plain Python values."""
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=table_name, ConsistentRead=True
        )
        return [_plain(item) for page in pages for item in page["Items"]]

    def executions(self, state_machine_arn: str) -> list[Execution]:
        """Every execution of a state machine, oldest first, however it was started.

        Parameters
        ----------
        state_machine_arn
            The state machine, for example a child that parents start with
            ``states:startExecution`` tasks.

        Returns
        -------
        list of Execution
            Its executions, running or ended; ``Execution.wait`` waits for one's end.
        """
        pages = self.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn
        )
        found = [execution for page in pages for execution in page["executions"]]
        found.sort(key=lambda execution: execution["startDate"])
        return [Execution(execution["executionArn"], self) for execution in found]

    def _invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        """Run the local function that moto's Lambda backend was asked to invoke."""
        name = function_name.rsplit(":", 1)[-1] if ":" in function_name else function_name
        function = self._functions.get(name)
        if function is None:
            raise LookupError(f"The local engine has no function {function_name}")
        payload, failed = function.invoke(body if isinstance(body, bytes) else (body or b""))
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["Content-Length"] = str(len(payload))
        return payload
