"""StartSyncExecution on the local engine: Express runs to its end, Standard is refused."""

from __future__ import annotations

import boto3
import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_stepfunctions as sfn
from botocore.exceptions import ClientError
from conftest import new_app

from idempotent_workflows import ProtocolState as S

DEMO_OUTPUT = {
    **{f"step{n}": {"result": f"Output of step {n}"} for n in range(1, 5)},
    "randomFailureFunc": "All good",
}


@pytest.fixture
def express_demo(example_stacks, local_engine):
    deployed = local_engine.deploy(example_stacks["IdempotentWorkflowExpress"])
    deployed.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    return deployed


def test_a_sync_execution_returns_the_output_and_duplicates_the_stored_one(express_demo):
    first = express_demo.run_sync({"order": 1})
    assert first.status == "SUCCEEDED"
    assert first.output == DEMO_OUTPUT
    duplicate = express_demo.run_sync({"order": 1})
    assert duplicate.status == "SUCCEEDED"
    assert duplicate.output == DEMO_OUTPUT
    assert duplicate.states_entered[-1] == S.RETURN_STORED_RESULT
    assert express_demo.function("RandomFailure").invocations == 1


def test_a_failed_sync_execution_answers_the_error_and_cause(express_demo):
    express_demo.function("RandomFailure").environment["FAILURE_RATE"] = "1"
    failed = express_demo.run_sync({"order": 2})
    assert failed.status == "FAILED"
    assert failed.error == "RandomFailure"
    assert "run the workflow again" in failed.cause
    assert failed.output is None


def test_boto3_clients_of_the_user_reach_start_sync_execution(express_demo, local_engine):
    client = boto3.client("stepfunctions")  # made by the user, inside the engine
    answer = client.start_sync_execution(
        stateMachineArn=express_demo.state_machine(), input='{"order": 3}'
    )
    assert answer["status"] == "SUCCEEDED"
    assert answer["stateMachineArn"] == express_demo.state_machine()
    assert answer["input"] == '{"order":3}'
    assert answer["output"].startswith('{"step1"')
    assert "error" not in answer
    assert answer["stopDate"] >= answer["startDate"]


def test_a_standard_state_machine_is_refused_like_aws(example_stacks, local_engine):
    standard = local_engine.deploy(example_stacks["IdempotentWorkflowStandard"])
    with pytest.raises(ClientError) as refused:
        standard.run_sync({"order": 4})
    assert refused.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"
    assert standard.function("RandomFailure").invocations == 0
    assert standard.items() == []


def test_a_sync_execution_past_its_timeout_is_timed_out(local_engine):
    stack = Stack(new_app(), "SyncTimeout")
    wait = sfn.Wait.jsonata(stack, "Wait", time=sfn.WaitTime.duration(Duration.minutes(1)))
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(wait),
        query_language=sfn.QueryLanguage.JSONATA,
        state_machine_type=sfn.StateMachineType.EXPRESS,
        timeout=Duration.seconds(1),
    )
    deployed = local_engine.deploy(stack)
    local_engine.wait_scale = 1.0  # the Wait outlasts the state machine's TimeoutSeconds
    timed_out = deployed.run_sync({})
    assert timed_out.status == "TIMED_OUT"
    assert timed_out.output is None
