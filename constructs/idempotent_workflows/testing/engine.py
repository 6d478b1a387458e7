"""The local engine: deploy synthesized stacks into an in-process AWS (moto) and run them.

``LocalEngine`` opens the room: the AWS environment set aside (``isolation``), moto started
with every completion of the Step Functions interpreter (``stepfunctions.patches``). Deploying
is ``deploy``'s (template to resources), running and reading is ``run``'s (executions and what
they left behind).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import boto3
from aws_cdk import Stack, Stage

from .deploy.functions import ENVIRONMENT_LOCK
from .deploy.naming import ACCOUNT
from .deploy.resources import Deployer
from .deploy.stack import DeployedStack
from .isolation import isolated_from_aws
from .jsonata.evaluator import SHARED as JSONATA
from .moto_compat import MockTestCase, UnknownFunctionException
from .run import contents
from .run.completion import Completions
from .run.execution import Execution, start_request
from .run.pipes import PipeRunner
from .stepfunctions.fast_paths import executions_in_this_thread
from .stepfunctions.faults import MockConfig, MockConfigSource
from .stepfunctions.patches import patched_moto


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
        responses. See ``MockConfig`` and docs/engine.md ("Fault injection").

    Attributes
    ----------
    wait_scale : float
        May be changed between executions, for example to let slow work span several polls.
    mock_config : MockConfig or None
        The mock configuration; replace it with :meth:`load_mock_config`.
    sfn, dynamodb, sqs, sns
        boto3 clients of the local AWS (inside the ``with`` block), to arrange or inspect state
        that the API above does not cover, or to answer task tokens
        (``sfn.send_task_success``, ``send_task_failure``, ``send_task_heartbeat``). Once the
        engine is closed, a call raises ``RuntimeError`` before any request leaves: without
        moto, it would go to AWS.

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
        self.load_mock_config(mock_config)
        self._deployer = Deployer(region)
        self._stack: contextlib.ExitStack | None = None
        self._completions = Completions()
        self._pipes: list[PipeRunner] = []

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LocalEngine:
        # Here rather than in the first state that evaluates JSONata: a missing Node or jsonata
        # is an exception in the test, naming the fix, not a failed execution.
        JSONATA.start()
        stack = contextlib.ExitStack()
        stack.enter_context(isolated_from_aws(self.region))
        stack.enter_context(
            patched_moto(
                wait_scale=lambda: self.wait_scale,
                execution_ended=self._completions.ended,
                test_case_for=self._test_case,
                wait_for_end=self._completions.wait,
                invoke=self._invoke,
            )
        )
        self._stack = stack
        session = boto3.session.Session(region_name=self.region)
        self.sfn = session.client("stepfunctions")
        self.dynamodb = session.client("dynamodb")
        self.sqs = session.client("sqs")
        self.sns = session.client("sns")
        for client in (self.sfn, self.dynamodb, self.sqs, self.sns):
            client.meta.events.register("before-call.*.*", self._refuse_once_closed)
        return self

    def _refuse_once_closed(self, model: Any, **kwargs: Any) -> None:
        """Fail a call of a client of this engine made after it closed, before it is sent."""
        if self._stack is None:
            raise RuntimeError(
                f"{model.service_model.service_name}.{model.name}: this LocalEngine is closed, "
                "and its clients would call AWS itself: use them inside the engine's `with` "
                "block (or the local_engine fixture's test)."
            )

    def __exit__(self, *exc_info: Any) -> None:
        assert self._stack is not None
        try:
            for pipe in self._pipes:
                pipe.stop_polling()
            self._stop_running_executions()
            pipes, self._pipes = self._pipes, []
            for pipe in pipes:
                pipe.join(timeout=30.0)
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
            for _, machine in self._deployer.state_machines
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
        references to them resolve, but nothing is created for them. Pipes from a queue to a
        state machine run until the engine closes (``testing.run.pipes``).
        """
        deployed = self._deployer.deploy(
            template, stack_name=stack_name, asset_dir=asset_dir, engine=self
        )
        for pipe in deployed.pipes.values():
            runner = PipeRunner(pipe, self.sfn, self.sqs, lambda: self.wait_scale)
            runner.start()
            self._pipes.append(runner)
        return deployed

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
        request = start_request(state_machine_arn, execution_input, name=name, test_case=test_case)
        return Execution(self.sfn.start_execution(**request)["executionArn"], self)

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
        started = time.perf_counter()
        with executions_in_this_thread():
            execution = self.start(
                state_machine_arn, execution_input, name=name, test_case=test_case
            )
        execution.wait()
        execution.seconds = time.perf_counter() - started
        return execution

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
        started = time.perf_counter()
        request = start_request(state_machine_arn, execution_input, name=name, test_case=test_case)
        answer = self.sfn.start_sync_execution(**request)
        seconds = time.perf_counter() - started
        return Execution(answer["executionArn"], self, _description=answer, seconds=seconds)

    def load_mock_config(self, source: MockConfigSource | None) -> None:
        """Use a mock configuration (a mapping or a JSON file path), or none; see ``MockConfig``."""
        self.mock_config = None if source is None else MockConfig.load(source)

    def _test_case(self, state_machine_arn: str, test_case: str) -> MockTestCase:
        if self.mock_config is None:
            raise LookupError(f"No mock configuration is loaded, so no test case {test_case!r}")
        names = [state_machine_arn.rsplit(":", 1)[-1]]
        names += [
            logical_id
            for logical_id, arn in self._deployer.state_machines
            if arn == state_machine_arn
        ]
        return self.mock_config.test_case(names, test_case)

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
        return contents.receive(self.sqs, queue_url, timeout)

    def published(self, topic_arn: str) -> list[dict[str, Any]]:
        """What a topic was sent (SNS Publish), oldest first.

        Returns
        -------
        list of dict
            ``MessageId``, ``Message`` (parsed from JSON when it is JSON), ``Subject`` (or
            ``None``) and ``MessageAttributes`` as a subscriber receives them
            (``{"name": {"Type": "String", "Value": "..."}}``).
        """
        return contents.published(topic_arn, region=self.region, account=ACCOUNT)

    def items(self, table_name: str) -> list[dict[str, Any]]:
        """Every item of a table, as plain Python values."""
        return contents.table_items(self.dynamodb, table_name)

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

    def described_at_end(self, execution_arn: str, timeout: float) -> dict[str, Any] | None:
        """DescribeExecution once the execution ended; ``None`` if ``timeout`` s pass first.

        ``Execution.wait`` waits so, on the event the execution's end sets (no polling).
        """
        if not self._completions.wait(execution_arn, timeout):
            return None
        described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
        return described

    def _invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        """Run the local function that moto's Lambda backend was asked to invoke."""
        name = function_name.rsplit(":", 1)[-1] if ":" in function_name else function_name
        function = self._deployer.functions.get(name)
        if function is None:
            # Lambda's own answer: Step Functions names it Lambda.ResourceNotFoundException.
            raise UnknownFunctionException(
                function_name
                if function_name.startswith("arn:")
                else f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{function_name}"
            )
        response_headers["X-Amz-Executed-Version"] = "$LATEST"  # ExecutedVersion in the result
        payload, failed = function.invoke(body if isinstance(body, bytes) else (body or b""))
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["Content-Length"] = str(len(payload))
        return payload
