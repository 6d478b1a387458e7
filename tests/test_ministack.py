"""`cdk deploy` for real into MiniStack: the example stacks, deployed code, concurrency, and the
places where MiniStack is not Step Functions, pinned.

One MiniStack for the whole session (the plugin's ``ministack`` fixture), bootstrapped once;
the example app and a small stack with a handler in a temporary folder are each deployed once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from conftest import CONTEXT, EXAMPLE_STACKS, WORKFLOW_STACKS

from idempotent_workflows import IdempotentWorkflow
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.examples import add_example_stacks
from idempotent_workflows.runtime import WorkflowClient, WorkflowDescription
from idempotent_workflows.testing import Execution
from idempotent_workflows.testing.ministack import MiniStack, port_is_free, run_execution
from idempotent_workflows.testing.ministack.emulator import ITEM_OPERATIONS

PURCHASE = {"TransactionType": "PURCHASE", "TransactionId": "T-1", "Amount": 5}
#: What the payments API hands its workflow (API Gateway itself is not deployed for real here).
PAYMENT = {
    "caller": "arn:aws:iam::000000000000:user/test  ",
    "idempotencyKey": "pay-1",
    "body": {"amount": 5, "currency": "EUR"},
}


def is_express(stack: str) -> bool:
    return stack.endswith("Express") or stack == "PaymentsApi"


HOSTILE_AWS = {
    "AWS_PROFILE": "nonexistent",
    "AWS_DEFAULT_PROFILE": "nonexistent",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "bogus",
    "AWS_SESSION_TOKEN": "bogus",
    "AWS_REGION": "eu-west-3",
    "AWS_DEFAULT_REGION": "eu-west-3",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_STEPFUNCTIONS": "http://127.0.0.1:9",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CA_BUNDLE": "/nonexistent/ca.pem",
}


class CodeStack(Stack):
    """A Lambda function from a folder of the test's, inside an idempotent workflow."""

    def __init__(self, scope: App, id: str, handler_folder: Path) -> None:
        super().__init__(scope, id)
        function = lambda_.Function(
            self,
            "Version",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(handler_folder)),
        )
        IdempotentWorkflow(
            self,
            "Workflow",
            work=tasks.LambdaInvoke.jsonata(
                self, "Call", lambda_function=function, outputs="{% $states.result.Payload %}"
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )


HANDLER = "def handler(event, context):\n    return {{'version': {version!r}}}\n"


@pytest.fixture(scope="module")
def examples_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example app synthesized as app.py does (same context), into a temporary cdk.out."""
    outdir = tmp_path_factory.mktemp("examples") / "cdk.out"
    app = App(context=CONTEXT, outdir=str(outdir))
    add_example_stacks(app)
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def deployed(ministack: MiniStack, examples_assembly: Path) -> MiniStack:
    ministack.deploy(examples_assembly)
    for stack in EXAMPLE_STACKS:
        if stack.startswith("IdempotentWorkflow"):
            set_environment(ministack, stack, FAILURE_RATE="0")
    return ministack


@pytest.fixture(scope="module")
def code_stack(ministack: MiniStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """CodeStack deployed with handler v1; afterwards both the source folder and the staged
    asset in cdk.out are edited to v2."""
    base = tmp_path_factory.mktemp("code")
    handler = base / "handler" / "handler.py"
    handler.parent.mkdir()
    handler.write_text(HANDLER.format(version="deployed"))
    outdir = base / "cdk.out"
    app = App(context=CONTEXT, outdir=str(outdir))
    CodeStack(app, "DeployedCode", handler.parent)
    app.synth()
    ministack.deploy(outdir)
    edited = [handler, *outdir.glob("asset.*/handler.py")]
    assert len(edited) == 2
    for path in edited:
        path.write_text(HANDLER.format(version="edited after deploy"))
    return {"assembly": outdir, "stack": "DeployedCode"}


def set_environment(local: MiniStack, stack: str, **variables: str) -> None:
    for name in local.functions(stack).values():
        local.client("lambda").update_function_configuration(
            FunctionName=name, Environment={"Variables": variables}
        )


_ARNS: dict[tuple[int, str], str] = {}


def only_state_machine(local: MiniStack, stack: str) -> str:
    if (id(local), stack) not in _ARNS:
        (_ARNS[id(local), stack],) = local.state_machines(stack).values()
    return _ARNS[id(local), stack]


def run(local: MiniStack, stack: str, execution_input: Any) -> Execution:
    return run_execution(
        local.client("stepfunctions"),
        only_state_machine(local, stack),
        execution_input,
        express=is_express(stack),
    )


def test_every_example_stack_is_deployed_through_the_cdk_cli(deployed: MiniStack):
    cloudformation = deployed.client("cloudformation")
    sfn = deployed.client("stepfunctions")
    for stack in EXAMPLE_STACKS:
        (description,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
        assert description["StackStatus"] == "CREATE_COMPLETE"
        machine = sfn.describe_state_machine(stateMachineArn=only_state_machine(deployed, stack))
        assert machine["type"] == ("EXPRESS" if is_express(stack) else "STANDARD")
    # The bootstrap stack the CLI created, and the CLI's asset publishing, ran too.
    assert cloudformation.describe_stacks(StackName="CDKToolkit")["Stacks"]


@pytest.mark.parametrize("stack", WORKFLOW_STACKS)
def test_first_run_and_duplicate_on_each_deployed_state_machine(deployed: MiniStack, stack: str):
    execution_input = (
        {**PURCHASE, "TransactionId": f"first-{stack}"}
        if stack.startswith("Transaction")
        else PAYMENT
        if stack == "PaymentsApi"
        else {"orderId": f"first-{stack}"}
    )
    first = run(deployed, stack, execution_input)
    again = run(deployed, stack, execution_input)
    assert (first.status, again.status) == ("SUCCEEDED", "SUCCEEDED")
    if stack == "PaymentsApi":  # the API's workflow says which answer is the replay
        assert (first.output["replayed"], again.output["replayed"]) == (False, True)
        assert again.output["resultJson"] == first.output["resultJson"]
    else:
        assert again.output == first.output
    if stack.endswith("Standard"):
        assert first.states_entered == [S.ACQUIRE_LOCK, S.RUN_WORK, S.STORE_RESULT]
        assert again.states_entered == [
            S.ACQUIRE_LOCK,
            S.READ_RECORD,
            S.CHECK_RECORD,
            S.RETURN_STORED_RESULT,
        ]
    else:  # StartSyncExecution: its reply has no history (AWS keeps none for Express)
        assert first.states_entered == again.states_entered == []
    if stack.startswith("Transaction"):  # a new receipt per charge: the duplicate charged none
        (result,) = first.output
        assert result["Status"] == "CHARGED" and result["ReceiptId"]


def test_the_lambda_that_runs_is_the_deployed_zip(ministack: MiniStack, code_stack):
    (function,) = ministack.functions(code_stack["stack"]).values()
    reply = ministack.client("lambda").invoke(FunctionName=function, Payload=b"{}")
    assert json.loads(reply["Payload"].read()) == {"version": "deployed"}
    execution = run(ministack, code_stack["stack"], {"any": "input"})
    assert execution.output == [{"version": "deployed"}]


def test_ten_concurrent_identical_executions_run_the_work_once(deployed: MiniStack):
    stack = "TransactionStandard"
    execution_input = {**PURCHASE, "TransactionId": "concurrent-1"}
    with ThreadPoolExecutor(10) as pool:
        executions = list(pool.map(lambda _: run(deployed, stack, execution_input), range(10)))
    assert [e.status for e in executions] == ["SUCCEEDED"] * 10, [e.error for e in executions]
    assert sum(S.RUN_WORK in e.states_entered for e in executions) == 1
    # One receipt: the purchase handler ran once, and every caller got its result.
    assert len({json.dumps(e.output) for e in executions}) == 1


def test_failure_is_recorded_and_the_retry_runs_the_work(deployed: MiniStack):
    stack = "IdempotentWorkflowStandard"
    set_environment(deployed, stack, FAILURE_RATE="1")
    try:
        failed = run(deployed, stack, {"orderId": "fails-once"})
    finally:
        set_environment(deployed, stack, FAILURE_RATE="0")
    retried = run(deployed, stack, {"orderId": "fails-once"})
    assert failed.status == "FAILED"
    assert failed.states_entered[-2:] == [S.RECORD_FAILURE, S.FAIL_WITH_WORK_ERROR]
    assert retried.status == "SUCCEEDED" and S.RUN_WORK in retried.states_entered


def test_the_operator_command_shows_and_releases_a_deployed_record(deployed: MiniStack):
    """The console script, pointed at MiniStack: the record of an input, a stuck lock released."""
    stack, order = "IdempotentWorkflowStandard", {"order": "operator"}
    arn = only_state_machine(deployed, stack)
    first = run(deployed, stack, order)
    script = Path(sys.executable).parent / "idempotent-workflows"

    def command(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, *arguments, "--state-machine", arn, "--input", json.dumps(order), "--json"]
            + ["--endpoint-url", deployed.endpoint],
            env=deployed.environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    shown = command("show")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert (record["status"], record["holder"], record["attempts"]) == ("SUCCEEDED", first.arn, 1)
    (workflow,) = WorkflowDescription.describe(arn, deployed.client("stepfunctions"))
    deployed.client("dynamodb").update_item(
        TableName=workflow.table_name,
        Key={"id": {"S": record["key"]}},
        UpdateExpression="SET executionstatus = :held, #execution = :dead, leaseexpiry = :later",
        ExpressionAttributeNames={"#execution": "execution"},
        ExpressionAttributeValues={
            ":held": {"S": "IN_PROGRESS"},
            ":dead": {"S": "arn:dead"},
            ":later": {"N": str(int(time.time()) + 900)},
        },
    )
    released = command("release", "--reason", "holder crashed")
    assert released.returncode == 0, released.stderr
    assert json.loads(released.stdout.splitlines()[-1])["status"] == "FAILED"
    again = run(deployed, stack, order)
    assert again.status == "SUCCEEDED" and S.RUN_WORK in again.states_entered
    assert json.loads(command("show").stdout)["attempts"] == 2


def test_unknown_transaction_type_fails_with_the_named_error(deployed: MiniStack):
    execution = run(deployed, "TransactionExpress", {**PURCHASE, "TransactionType": "GIFT"})
    assert (execution.status, execution.error) == ("FAILED", "Transaction.UnknownType")


def test_the_client_answers_duplicates_by_name_on_ministack(deployed: MiniStack):
    """Although MiniStack refuses a running execution's name with the same input (see the
    difference below), the client describes it and waits: one execution, one answer."""
    machine = only_state_machine(deployed, "TransactionStandard")
    client = WorkflowClient(machine, client=deployed.client("stepfunctions"), poll_seconds=0.1)
    purchase = {**PURCHASE, "TransactionId": "by-name"}
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: client.run(purchase), range(5)))
    assert {answer.execution_arn for answer in answers} == {answers[0].execution_arn}
    assert [answer.output for answer in answers] == [answers[0].output] * 5
    later = client.run(purchase)
    assert later.replayed and later.output == answers[0].output
    sfn = deployed.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in listed].count(client.execution_name(purchase)) == 1


# --- Where MiniStack is not Step Functions: pinned, so an upgrade that changes one shows up ---


def test_difference_parallel_jsonata_output_is_ignored(deployed: MiniStack):
    """RunWork (a Parallel) has ``Output: $states.result[0]``; MiniStack ignores a Parallel
    state's JSONata fields and passes the branch array on. Step Functions returns the object."""
    execution = run(deployed, "TransactionStandard", {**PURCHASE, "TransactionId": "parallel"})
    assert isinstance(execution.output, list) and len(execution.output) == 1
    assert execution.output[0]["TransactionId"] == "parallel"


def test_difference_null_in_an_array_reads_as_empty(deployed: MiniStack):
    """jsonata-python drops a null inside an array, so ``[null]`` and ``[]`` get one key: the
    second input is taken for a duplicate. Step Functions keys them apart."""
    stack = "IdempotentWorkflowStandard"
    run(deployed, stack, {"orderId": "nulls", "tags": [None]})
    second = run(deployed, stack, {"orderId": "nulls", "tags": []})
    assert second.states_entered[-1] == S.RETURN_STORED_RESULT


def test_difference_lambda_error_name(deployed: MiniStack):
    """The handler raises ``RandomFailure``; AWS names the error after the exception class,
    MiniStack reports ``Runtime.HandlerError`` (the protocol passes on whichever it gets)."""
    stack = "IdempotentWorkflowExpress"
    set_environment(deployed, stack, FAILURE_RATE="1")
    try:
        failed = run(deployed, stack, {"orderId": "error-name"})
    finally:
        set_environment(deployed, stack, FAILURE_RATE="0")
    assert failed.error == "Runtime.HandlerError"
    assert "The random failure step failed" in (failed.cause or "")


def test_difference_history_has_no_states_inside_parallel_branches(deployed: MiniStack):
    """Step Functions' history lists the branch's states too (Step1 ... RandomFailure);
    MiniStack lists the top-level states only."""
    execution = run(deployed, "IdempotentWorkflowStandard", {"orderId": "history"})
    assert execution.states_entered == [S.ACQUIRE_LOCK, S.RUN_WORK, S.STORE_RESULT]


def test_difference_start_sync_execution_needs_no_host_prefix(deployed: MiniStack):
    """The SDK prefixes StartSyncExecution's host with ``sync-``; against a local endpoint
    that host does not exist, so the clients here turn ``inject_host_prefix`` off."""
    from botocore.config import Config

    plain = deployed.client(
        "stepfunctions", config=Config(inject_host_prefix=True, retries={"max_attempts": 1})
    )
    arn = only_state_machine(deployed, "TransactionExpress")
    with pytest.raises(botocore.exceptions.EndpointConnectionError, match="sync-127.0.0.1"):
        plain.start_sync_execution(stateMachineArn=arn, input=json.dumps(PURCHASE))


def test_difference_express_executions_have_a_history(deployed: MiniStack):
    """AWS answers DescribeExecution and GetExecutionHistory for Standard executions only
    (Express history lives in CloudWatch Logs); MiniStack answers both for Express too.
    Nothing here relies on it: the Express tests read only StartSyncExecution's reply."""
    sfn = deployed.client("stepfunctions")
    execution = run(deployed, "TransactionExpress", {**PURCHASE, "TransactionId": "express"})
    assert sfn.describe_execution(executionArn=execution.arn)["status"] == "SUCCEEDED"
    events = sfn.get_execution_history(executionArn=execution.arn)["events"]
    assert events[0]["type"] == "ExecutionStarted"


def test_difference_conditional_writes_of_executions_are_not_atomic():
    """MiniStack runs each execution in a thread that calls its DynamoDB item functions
    directly, with no lock around a conditional write's check and write: measured, 2 rounds
    in 8 of 10 concurrent executions had two lock holders (Idempotency.LockLost). DynamoDB's
    conditional writes are atomic; ``MiniStack(atomic_items=True)``, the default, wraps these
    functions in one lock in the MiniStack process (the concurrency test above runs so)."""
    source = Path(importlib.util.find_spec("ministack.services.stepfunctions").origin)
    assert '"updateItem": dynamodb._update_item' in source.read_text()
    dynamodb = Path(importlib.util.find_spec("ministack.services.dynamodb").origin).read_text()
    update_item = dynamodb[dynamodb.index("def _update_item(") :]
    update_item = update_item[: update_item.index("\ndef ")]
    assert "_lock" not in update_item
    assert "_update_item" in ITEM_OPERATIONS and "_transact_write_items" in ITEM_OPERATIONS


def test_difference_execution_names_are_taken_whatever_the_status_type_or_alphabet(
    deployed: MiniStack,
):
    """Step Functions (Standard) answers the running execution to the same name and input,
    starts a new execution at every Express start whatever the name, and refuses names with
    white space or ``/`` (``InvalidName``). MiniStack refuses any name it has seen
    (``ExecutionAlreadyExists``), running or not, Express too, and takes any name. The
    workflow client copes: a refused name it describes, and a RUNNING execution it waits for."""
    sfn = deployed.client("stepfunctions")
    express = only_state_machine(deployed, "TransactionExpress")
    document = json.dumps({**PURCHASE, "TransactionId": "names"})
    first = sfn.start_execution(stateMachineArn=express, name="a b/c", input=document)
    assert first["executionArn"].endswith(":a b/c")  # Step Functions: InvalidName
    with pytest.raises(botocore.exceptions.ClientError) as refused:  # Step Functions: started
        sfn.start_execution(stateMachineArn=express, name="a b/c", input=document)
    assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    source = Path(importlib.util.find_spec("ministack.services.stepfunctions").origin)
    assert "if exec_arn in _executions:" in source.read_text()  # whatever its status and input


# --- make run's path, hostile settings, and stopping ---


def test_the_deployed_demo_ignores_hostile_aws_settings(tmp_path: Path):
    """The demo driver (make run) with a profile that does not exist, bogus keys, an endpoint
    nothing listens on and unreadable config files: it still deploys and runs locally.

    The Standard stacks only, to halve the time (make run deploys all four)."""
    assembly = tmp_path / "cdk.out"
    app = App(context=CONTEXT, outdir=str(assembly))
    add_example_stacks(app, [sfn.StateMachineType.STANDARD])
    app.synth()
    environment = {**os.environ, **HOSTILE_AWS}
    result = subprocess.run(
        [sys.executable, "-m", "idempotent_workflows.examples.deployed_demo", assembly],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for stack in ("IdempotentWorkflowStandard", "TransactionStandard"):
        assert f"\n{stack} (Standard" in out
    assert "duplicate " in out and "PURCHASE repeated" in out and "ReturnStoredResult" in out
    assert "10 concurrent duplicates: status SUCCEEDED, distinct outputs 1, work ran 1x" in out
    assert "Transaction.UnknownType" in out
    last = out.strip().splitlines()[-1]
    assert "MiniStack stopped" in last and last.endswith("free: True")


def test_ministack_is_stopped_when_tests_fail(tmp_path: Path, code_stack):
    """A user's session: one test deploys with ``deployed_assembly``, one fails. After pytest
    exits, MiniStack's process group is gone and its port is free."""
    record = tmp_path / "ministack.json"
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            f"""
            import json

            def test_deployed(deployed_assembly):
                json.dump(
                    {{"pid": deployed_assembly.pid, "port": deployed_assembly.port}},
                    open({str(record)!r}, "w"),
                )
                assert deployed_assembly.state_machines("DeployedCode")

            def test_fails(ministack):
                assert False, "a failing test"
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--ministack-assembly={code_stack['assembly']}",
            "test_user.py",
        ],
        cwd=tmp_path,
        env={**os.environ, **HOSTILE_AWS},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "1 failed, 1 passed" in result.stdout
    started = json.loads(record.read_text())
    with pytest.raises(ProcessLookupError):
        os.killpg(started["pid"], 0)
    assert port_is_free(started["port"])


def test_a_ministack_that_cannot_start_is_cleaned_up():
    local = MiniStack(startup_timeout=0.05)
    with pytest.raises(Exception, match="MiniStack"):
        local.start()
    assert local.pid is None and port_is_free(local.port)


def test_ministack_exits_with_a_process_that_never_stopped_it(tmp_path: Path):
    """A test process killed outright: MiniStack gets SIGTERM from the kernel (Linux)."""
    script = (
        "import os; from idempotent_workflows.testing.ministack import MiniStack;"
        "local = MiniStack(); local.start();"
        "print(local.pid, local.port, local.log_file.parent, flush=True); os._exit(1)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    pid, port, workdir = result.stdout.split()
    pid, port = int(pid), int(port)
    shutil.rmtree(workdir)  # what stop() would have removed
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
        pytest.fail("MiniStack outlived the process that started it")
    assert port_is_free(port)
