"""Fault injection: mocked responses in Step Functions Local's shape, on Standard and Express."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from botocore.exceptions import ClientError
from conftest import new_app

from idempotent_workflows import ProtocolState as S
from idempotent_workflows import RecordStatus
from idempotent_workflows.testing import Execution, MockConfig

THROTTLED = "DynamoDB.ProvisionedThroughputExceededException"
MOCKED_RESPONSES = {
    # Every try the protocol's default retry policy makes: the first and 3 retries.
    "Throttled": {"0-3": {"Throw": {"Error": THROTTLED, "Cause": "Rate of requests exceeded"}}},
    "Declined": {"0": {"Throw": {"Error": "PaymentDeclined", "Cause": "card expired"}}},
    "Mocked": {"0": {"Return": {"StatusCode": 200, "Payload": "mocked result"}}},
    "TimedOut": {"0": {"Throw": {"Error": "States.Timeout", "Cause": "took too long"}}},
}
TEST_CASES = {
    "ThrottledLock": {S.ACQUIRE_LOCK: "Throttled"},
    "DeclinedWork": {"RandomFailure": "Declined"},
    "MockedWork": {"RandomFailure": "Mocked"},
    "TimedOutLock": {S.ACQUIRE_LOCK: "TimedOut"},
}


def failures(execution) -> list[tuple[str, str]]:
    return [
        (event["taskFailedEventDetails"]["error"], event["taskFailedEventDetails"]["cause"])
        for event in execution.history
        if event["type"] == "TaskFailed"
    ]


@pytest.fixture(params=["Standard", "Express"])
def demo(request, example_stacks, local_engine):
    """The classic demo with the test cases above, keyed by its state machine's logical id."""
    deployed = local_engine.deploy(example_stacks[f"IdempotentWorkflow{request.param}"])
    deployed.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    (logical_id,) = deployed.state_machines
    local_engine.load_mock_config(
        {
            "StateMachines": {logical_id: {"TestCases": TEST_CASES}},
            "MockedResponses": MOCKED_RESPONSES,
        }
    )
    return deployed


def test_a_lock_throttled_on_every_try_fails_with_the_services_error(demo):
    execution = demo.run({"order": 1}, test_case="ThrottledLock")
    assert execution.status == "FAILED"
    assert execution.error == THROTTLED
    assert execution.cause == "Rate of requests exceeded"
    assert execution.states_entered == [S.ACQUIRE_LOCK]
    assert failures(execution) == [(THROTTLED, "Rate of requests exceeded")] * 4
    assert demo.items() == []  # the write never happened
    assert demo.function("RandomFailure").invocations == 0


def test_a_predefined_states_error_can_be_thrown(demo):
    execution = demo.run({"order": 1}, test_case="TimedOutLock")
    assert (execution.error, execution.cause) == ("States.Timeout", "took too long")


def test_without_a_test_case_the_same_execution_calls_the_service(demo):
    assert demo.run({"order": 1}, test_case="ThrottledLock").status == "FAILED"
    execution = demo.run({"order": 1})
    assert execution.status == "SUCCEEDED"
    assert failures(execution) == []
    assert demo.function("RandomFailure").invocations == 1


def test_a_lambda_that_throws_fails_the_work_by_its_error_name(demo):
    execution = demo.run({"order": 2}, test_case="DeclinedWork")
    assert execution.status == "FAILED"
    assert execution.error == "PaymentDeclined"
    assert execution.cause == "card expired"
    assert ("PaymentDeclined", "card expired") in failures(execution)
    (record,) = demo.items()
    assert record["executionstatus"] == RecordStatus.FAILED
    assert '"Error":"PaymentDeclined"' in record["executionresult"]
    assert demo.function("RandomFailure").invocations == 0


def test_a_mocked_return_replaces_the_task_result(demo):
    execution = demo.run({"order": 3}, test_case="MockedWork")
    assert execution.status == "SUCCEEDED"
    assert execution.output["randomFailureFunc"] == "mocked result"
    assert demo.function("RandomFailure").invocations == 0
    duplicate = demo.run({"order": 3})  # the stored result is the mocked one
    assert duplicate.output == execution.output


def test_express_sync_executions_take_test_cases_too(example_stacks, local_engine):
    deployed = local_engine.deploy(example_stacks["IdempotentWorkflowExpress"])
    local_engine.load_mock_config(
        {
            "StateMachines": {
                deployed.state_machine().rsplit(":", 1)[-1]: {"TestCases": TEST_CASES}
            },
            "MockedResponses": MOCKED_RESPONSES,
        }
    )
    execution = deployed.run_sync({"order": 4}, test_case="ThrottledLock")
    assert (execution.status, execution.error) == ("FAILED", THROTTLED)


# -- first N attempts, on a state with a Retry -------------------------------------------------


@pytest.fixture(scope="module")
def retrying_stacks():
    """A DynamoDB write that retries throttling twice (three attempts), per workflow type."""
    app = new_app()
    stacks = {}
    for name, workflow_type in (
        ("Standard", sfn.StateMachineType.STANDARD),
        ("Express", sfn.StateMachineType.EXPRESS),
    ):
        stack = stacks[name] = Stack(app, f"Retrying{name}")
        table = dynamodb.Table(
            stack,
            "Table",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            removal_policy=RemovalPolicy.DESTROY,
        )
        put = tasks.DynamoPutItem(
            stack,
            S.STORE_RESULT,
            table=table,
            item={"id": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.id"))},
        )
        put.add_retry(errors=[THROTTLED], max_attempts=2, interval=Duration.seconds(1))
        sfn.StateMachine(
            stack,
            "Machine",
            definition_body=sfn.DefinitionBody.from_chainable(put),
            state_machine_type=workflow_type,
        )
    return stacks


@pytest.mark.parametrize("workflow_type", ["Standard", "Express"])
@pytest.mark.parametrize(("tries", "status"), [("0-1", "SUCCEEDED"), ("0-2", "FAILED")])
def test_only_the_first_attempts_fail(retrying_stacks, local_engine, workflow_type, tries, status):
    deployed = local_engine.deploy(retrying_stacks[workflow_type])
    (logical_id,) = deployed.state_machines
    local_engine.load_mock_config(
        {
            "StateMachines": {logical_id: {"TestCases": {"Flaky": {S.STORE_RESULT: "T"}}}},
            "MockedResponses": {"T": {tries: {"Throw": {"Error": THROTTLED, "Cause": "slow"}}}},
        }
    )
    execution = deployed.run({"id": "r-1"}, test_case="Flaky")
    assert execution.status == status
    attempts = [e["type"] for e in execution.history if e["type"].startswith("Task")]
    if status == "SUCCEEDED":  # attempts 1 and 2 throttled, attempt 3 wrote the item
        assert failures(execution) == [(THROTTLED, "slow")] * 2
        assert attempts.count("TaskSucceeded") == 1
        assert deployed.items() == [{"id": "r-1"}]
    else:  # three throttled attempts exhaust the Retry
        assert execution.error == THROTTLED
        assert failures(execution) == [(THROTTLED, "slow")] * 3
        assert deployed.items() == []


# -- configuration ---------------------------------------------------------------------------


def test_a_json_file_and_the_arn_suffix_select_a_test_case(demo, local_engine, tmp_path):
    (logical_id,) = demo.state_machines
    config = {"StateMachines": {logical_id: {"TestCases": TEST_CASES}}}
    path = tmp_path / "MockConfigFile.json"
    path.write_text(json.dumps({**config, "MockedResponses": MOCKED_RESPONSES}))
    local_engine.load_mock_config(path)
    client = boto3.client("stepfunctions")  # as Step Functions Local users do it
    started = client.start_execution(
        stateMachineArn=f"{demo.state_machine()}#ThrottledLock", name="e-1", input="{}"
    )
    execution = Execution(started["executionArn"], local_engine).wait()
    assert (execution.status, execution.error) == ("FAILED", THROTTLED)
    with pytest.raises(ClientError) as unknown:
        client.start_execution(stateMachineArn=f"{demo.state_machine()}#Nope", input="{}")
    assert unknown.value.response["Error"]["Code"] == "InvalidName"
    assert "Nope" in unknown.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("responses", "message"),
    [
        ({"R": {"1": {"Throw": {"Error": "E"}}}}, "numbered"),
        ({"R": {"0": {"Return": {}, "Throw": {"Error": "E"}}}}, "either"),
        ({"R": {"first": {"Return": {}}}}, "try number"),
        ({}, "does not define"),
    ],
)
def test_a_malformed_configuration_is_refused_with_a_reason(responses, message):
    config = {
        "StateMachines": {"M": {"TestCases": {"Case": {"State": "R"}}}},
        "MockedResponses": responses,
    }
    with pytest.raises(ValueError, match=message):
        MockConfig(config)
