"""Step Functions behaviours the local engine reproduces, each from Step Functions' documentation.

Each test runs a small state machine, written in Amazon States Language as the cited page shows
it, on the engine and checks what the page says happens (the page is in the docstring). Where a
detail is not in the documentation (the exact wording of a cause), the test says where it comes
from.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn
from conftest import new_app, only_record
from jsonata_reference import JSONataReference, engine_outcome

from idempotent_workflows import IdempotentWorkflow, RecordStatus, handler_function

_names = itertools.count()
CAUSE_PREFIX = "An error occurred while executing the state"


def deploy(engine: Any, states: Callable[[Stack], dict[str, Any]], start: str = "State") -> Any:
    """Deploy a JSONata state machine whose states ``states(stack)`` returns, starting at
    ``start``; the stack is there for the resources the states use (tokens resolve)."""
    stack = Stack(new_app(), f"Semantics{next(_names)}")
    definition = {"QueryLanguage": "JSONata", "StartAt": start, "States": states(stack)}
    sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_string(json.dumps(definition))
    )
    return engine.deploy(stack)


def alone(state: dict[str, Any]) -> dict[str, Any]:
    """The states of a state machine of one state, ``State``."""
    return {"State": {**state, "End": True}}


def lambda_invoke(function_name: str, payload: Any, **fields: Any) -> dict[str, Any]:
    """A Lambda task state (Step Functions' optimized integration)."""
    arguments = {"FunctionName": function_name, "Payload": payload}
    resource = "arn:aws:states:::lambda:invoke"
    return {"Type": "Task", "Resource": resource, "Arguments": arguments, **fields}


def work_function(stack: Stack) -> str:
    """A Lambda function's ARN: the random-failure handler, which answers "All good" at rate 0."""
    function = handler_function(stack, "Work", folder="random_failure", description="Work")
    function.add_environment("FAILURE_RATE", "0")
    return function.function_arn


def table_name(stack: Stack) -> str:
    partition_key = dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)
    return dynamodb.Table(stack, "Table", partition_key=partition_key).table_name


def evaluation_failure(execution: Any) -> dict[str, Any]:
    """The details of the execution's one ``EvaluationFailed`` event."""
    (event,) = [e for e in execution.history if e["type"] == "EvaluationFailed"]
    details: dict[str, Any] = event["evaluationFailedEventDetails"]
    return details


# -- payload sizes ----------------------------------------------------------------------------


def test_payloads_are_measured_in_utf8_bytes(local_engine):
    """Service quotas (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html):
    a task's, state's or execution's input or output is at most 256 KiB "of data as a UTF-8
    encoded string". 100,000 "é" are 200,002 bytes of JSON (600,002 as \\u escapes);
    140,000 are over the limit, and the state fails with States.DataLimitExceeded."""
    text = {"Type": "Pass", "Output": "{% $pad('', $states.input.n, 'é') %}"}
    deployed = deploy(local_engine, lambda stack: alone(text))
    fits = deployed.run({"n": 100_000})
    assert fits.status == "SUCCEEDED" and fits.output == "é" * 100_000
    too_large = deployed.run({"n": 140_000})
    assert too_large.error == "States.DataLimitExceeded"


def test_a_tasks_input_after_arguments_is_measured_too(local_engine):
    """Handling errors (https://docs.aws.amazon.com/step-functions/latest/dg/
    concepts-error-handling.html), States.DataLimitExceeded: reported "when, after Parameters
    processing, the input of a state is larger than the payload size quota". Arguments is
    JSONata's Parameters: the function is never invoked."""
    payload = {"text": "{% $pad('', 140000, 'é') %}"}
    deployed = deploy(
        local_engine, lambda stack: alone(lambda_invoke(work_function(stack), payload))
    )
    execution = deployed.run({})
    assert execution.error == "States.DataLimitExceeded"
    assert "after Arguments or Parameters" in execution.cause
    assert deployed.function("Work").invocations == 0


def test_a_large_non_ascii_input_runs_the_protocol_and_leaves_no_lock(local_engine):
    """Service quotas (256 KiB of UTF-8): a 120 KiB input in another script is well within.

    The engine counted it as \\u escapes (360 KiB) and failed it with States.DataLimitExceeded
    after AcquireLock had written the lock, which then stayed IN_PROGRESS for its whole lease.
    """
    stack = Stack(new_app(), "LargeInput")
    work = sfn.Pass.jsonata(stack, "Work", outputs={"length": "{% $length($states.input.t) %}"})
    IdempotentWorkflow(stack, "Workflow", work=work)
    deployed = local_engine.deploy(stack)
    text = "é" * (60 * 1024)  # 120 KiB of UTF-8, 360 KiB as \u escapes
    first = deployed.run({"t": text})
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    assert first.output == {"length": 60 * 1024}
    assert only_record(deployed)["executionstatus"] == RecordStatus.SUCCEEDED
    again = deployed.run({"t": text})
    assert again.output == first.output and "Work" not in again.states_entered


# -- an expression that evaluates to nothing ------------------------------------------------------


@pytest.mark.parametrize(
    "field,state,location",
    [
        ("Output", {"Type": "Pass", "Output": {"v": "{% $states.input.nope %}"}}, "Output/v"),
        ("Assign", {"Type": "Pass", "Assign": {"v": "{% $states.input.nope %}"}}, "Assign/v"),
        (
            "Arguments",
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Arguments": {"TableName": "T", "Key": {"id": {"S": "{% $states.input.nope %}"}}},
            },
            "Arguments/Key/id/S",
        ),
    ],
)
def test_an_expression_that_evaluates_to_nothing_fails_its_field(
    local_engine, field, state, location
):
    """Transforming data with JSONata (https://docs.aws.amazon.com/step-functions/latest/dg/
    transforming-data.html) and EvaluationFailedEventDetails (https://docs.aws.amazon.com/
    step-functions/latest/apireference/API_EvaluationFailedEventDetails.html): a JSONata
    failure is States.QueryEvaluationError, recorded with the field's location. The cause's
    wording is the one AWS executions record for an expression that returns nothing."""
    deployed = deploy(local_engine, lambda stack: alone(state))
    execution = deployed.run({"present": 1})
    assert execution.error == "States.QueryEvaluationError"
    assert execution.cause.startswith(CAUSE_PREFIX + " 'State'")
    assert execution.cause.endswith(
        f"The JSONata expression '$states.input.nope' specified for the field '{location}' "
        "returned nothing (undefined)."
    )
    failed = evaluation_failure(execution)
    assert failed["error"] == "States.QueryEvaluationError"
    assert failed["location"] == location


@pytest.mark.parametrize(
    "condition,input_value",
    [("{% $states.input.nope %}", {}), ("{% $states.input.n %}", {"n": 1})],
    ids=["nothing", "a number"],
)
def test_a_choice_condition_that_is_no_boolean_fails(local_engine, condition, input_value):
    """Choice workflow state (https://docs.aws.amazon.com/step-functions/latest/dg/
    state-choice.html): in JSONata a rule's Condition is an expression that evaluates to a
    boolean; anything else fails the state with States.QueryEvaluationError."""
    deployed = deploy(
        local_engine,
        lambda stack: {
            "Choose": {
                "Type": "Choice",
                "Choices": [{"Condition": condition, "Next": "Done"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
        "Choose",
    )
    execution = deployed.run(input_value)
    assert execution.error == "States.QueryEvaluationError"
    assert evaluation_failure(execution)["location"] == "Choices[0]/Condition"


def test_assign_and_output_see_the_variables_as_they_were_before_the_state(local_engine):
    """Passing data between states with variables (https://docs.aws.amazon.com/
    step-functions/latest/dg/workflow-variables.html): Assign and Output of a state are
    evaluated with the variables as they were when the state was entered; a variable assigned
    in a state is seen from the next state on. Choice rules and Catch alike."""
    deployed = deploy(
        local_engine,
        lambda stack: {
            "Start": {"Type": "Pass", "Assign": {"x": 1}, "Next": "Both"},
            "Both": {
                "Type": "Pass",
                "Assign": {"x": "{% $x + 1 %}"},
                "Output": {"seen": "{% $x %}"},
                "Next": "Choose",
            },
            "Choose": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $x = 2 %}",
                        "Assign": {"x": 10},
                        "Output": {"seen": "{% [$states.input.seen, $x] %}"},
                        "Next": "After",
                    }
                ],
                "Default": "After",
            },
            "After": {
                "Type": "Pass",
                "Output": {"seen": "{% $states.input.seen %}", "x": "{% $x %}"},
                "End": True,
            },
        },
        "Start",
    )
    assert deployed.run({}).output == {"seen": [1, 2], "x": 10}


# -- Lambda ---------------------------------------------------------------------------------------


def test_an_unknown_function_is_lambda_resource_not_found(local_engine):
    """Invoke a Lambda function with Step Functions (https://docs.aws.amazon.com/
    step-functions/latest/dg/connect-lambda.html) passes Lambda's own errors on as
    ``Lambda.<exception>``; Lambda's Invoke answers an unknown function with
    ResourceNotFoundException (https://docs.aws.amazon.com/lambda/latest/api/
    API_Invoke.html)."""
    deployed = deploy(local_engine, lambda stack: alone(lambda_invoke("no-such-function", {})))
    execution = deployed.run({})
    assert execution.error == "Lambda.ResourceNotFoundException"
    assert (
        execution.cause.startswith(f"Function not found: arn:aws:lambda:{local_engine.region}:")
        and ":function:no-such-function (Service: AWSLambda; Status Code: 404;" in execution.cause
    )


def test_a_lambda_result_carries_the_executed_version(local_engine):
    """Invoke a Lambda function with Step Functions (connect-lambda.html): the result of
    ``arn:aws:states:::lambda:invoke`` holds ``ExecutedVersion`` (``$LATEST`` for an
    unqualified function), ``Payload`` and ``StatusCode``."""
    deployed = deploy(
        local_engine,
        lambda stack: alone(lambda_invoke(work_function(stack), {}, Output="{% $states.result %}")),
    )
    result = deployed.run({}).output
    assert result["ExecutedVersion"] == "$LATEST"
    assert result["StatusCode"] == 200 and result["Payload"] == "All good"


# -- DynamoDB -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource,error",
    [
        ("arn:aws:states:::dynamodb:getItem", "DynamoDB.AmazonDynamoDBException"),
        ("arn:aws:states:::aws-sdk:dynamodb:getItem", "DynamoDb.DynamoDbException"),
    ],
    ids=["optimized", "aws-sdk"],
)
def test_dynamodb_validation_errors_are_named_as_step_functions_names_them(
    local_engine, resource, error
):
    """Call DynamoDB with Step Functions (https://docs.aws.amazon.com/step-functions/latest/dg/
    connect-ddb.html) and AWS SDK service integrations (https://docs.aws.amazon.com/
    step-functions/latest/dg/supported-services-awssdk.html): the optimized integration
    names an error the DynamoDB API does not model (a ValidationException) after the Java
    SDK's base class, ``DynamoDB.AmazonDynamoDBException``, as AWS executions record it; an
    ``aws-sdk`` task names errors after the SDK for Java 2's service and exception classes,
    ``DynamoDb.DynamoDbException``."""
    deployed = deploy(
        local_engine,
        lambda stack: alone(
            {
                "Type": "Task",
                "Resource": resource,
                # The table's key is "id": a key without it does not match the schema.
                "Arguments": {"TableName": table_name(stack), "Key": {"other": {"S": "x"}}},
            }
        ),
    )
    execution = deployed.run({})
    assert execution.error == error


def test_update_item_returns_the_fields_dynamodb_returns_for_the_request(local_engine):
    """UpdateItem (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/
    API_UpdateItem.html): ``Attributes`` only with ReturnValues, ``ConsumedCapacity`` only
    with ReturnConsumedCapacity TOTAL or INDEXES; the optimized integration returns the
    response as DynamoDB gives it (connect-ddb.html)."""

    def states(stack: Stack) -> dict[str, Any]:
        table = table_name(stack)

        def update(extra: dict[str, str], then: str | None) -> dict[str, Any]:
            state: dict[str, Any] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Arguments": {
                    "TableName": table,
                    "Key": {"id": {"S": "k"}},
                    "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "1"}},
                    **extra,
                },
                "Output": "{% $append($states.input, [$states.result]) %}",
            }
            return {**state, "Next": then} if then else {**state, "End": True}

        return {
            "None": update({}, "AllNew"),
            "AllNew": update({"ReturnValues": "ALL_NEW"}, "Capacity"),
            "Capacity": update({"ReturnConsumedCapacity": "TOTAL"}, None),
        }

    deployed = deploy(local_engine, states, "None")
    none, all_new, capacity = deployed.run([]).output
    assert none == {}
    assert all_new == {"Attributes": {"id": {"S": "k"}, "n": {"N": "1"}}}
    assert set(capacity) == {"ConsumedCapacity"}


# -- the context object ----------------------------------------------------------------------------


def test_the_execution_in_the_context_object_has_its_redrive_count(local_engine):
    """Accessing execution data from the Context object (https://docs.aws.amazon.com/
    step-functions/latest/dg/input-output-contextobject.html): ``Execution`` holds ``Id``,
    ``Input``, ``Name``, ``RoleArn``, ``StartTime`` and ``RedriveCount`` (0 until the
    execution is redriven)."""
    read = {"Type": "Pass", "Output": "{% $states.context.Execution %}"}
    deployed = deploy(local_engine, lambda stack: alone(read))
    execution = deployed.run({"a": 1}).output
    assert execution["RedriveCount"] == 0
    assert {"Id", "Input", "Name", "RoleArn", "StartTime"} <= set(execution)


# -- Wait -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["not a date", "2026-01-31 12:00:00", 12, None])
def test_a_wait_timestamp_that_is_no_timestamp_fails(local_engine, when):
    """Wait workflow state (https://docs.aws.amazon.com/step-functions/latest/dg/
    state-wait.html): ``Timestamp`` must be an ISO 8601 timestamp (RFC 3339 profile, an
    uppercase T, Z for no offset); in JSONata states it may be an expression, whose failure
    is States.QueryEvaluationError. A valid timestamp in the past does not wait."""
    wait = {"Type": "Wait", "Timestamp": "{% $states.input.when %}"}
    deployed = deploy(local_engine, lambda stack: alone(wait))
    assert deployed.run({"when": "2020-01-31T12:00:00Z"}).status == "SUCCEEDED"
    execution = deployed.run({"when": when})
    assert execution.error == "States.QueryEvaluationError"
    assert evaluation_failure(execution)["location"] == "Timestamp"


# -- JSONata is JavaScript's ----------------------------------------------------------------------

#: What the Python port answered differently from jsonata 2.0.6 (issue 23), by name.
JAVASCRIPT_SEMANTICS = {
    "word characters are ASCII": "$match('é1', /\\w/).match",
    "digits are ASCII": "$contains('١', /\\d/)",
    "word boundaries are ASCII": "$contains('é', /\\bé/)",
    "length counts code points": "$length('\U0001f600')",
    "substring counts code points": "$substring('\U0001f600a', 1)",
    "split works on UTF-16 units": "$count($split('\U0001f600', ''))",
    "base64 is Latin-1": "[$base64encode('é'), $base64decode('6Q==')]",
    "a replacer function gets the groups": (
        "$replace('ab', /(a)(b)/, function($m) { $join($m.groups, '-') })"
    ),
    "replacement strings are JSONata's": "$replace('John Smith', /(\\w+)\\s(\\w+)/, '$2, $1 $$')",
    "integers beyond 2^53 are doubles": "$states.input.big + 0 = 9007199254740992",
    "dates roll over": "$fromMillis($toMillis('2024-02-30T00:00:00Z'))",
    "nulls in predicates": "$count([1, null, 2, null][$ = null])",
    "number words above 10^21": "$formatInteger(1e+46, 'w')",
    "exponent pictures": "$formatNumber(0.123, '#.e9')",
}
#: ... and where jsonata 2.0.6 fails and the port did not.
JAVASCRIPT_REFUSALS = {
    "no number with spaces": "$number(' 12 ')",
    "no number with underscores": "$number('1_000')",
    "no NaN": "$number('nan')",
    "only ISO 8601 dates": "$toMillis('2018-02-03 11:15:33')",
    "no fractional pad width": "$pad('foo', 5.7, ' ')",
}


def test_jsonata_answers_as_javascript_jsonata_does(local_engine):
    """Transforming data with JSONata (transforming-data.html): Step Functions implements
    JSONata 2.0.6, whose implementation is JavaScript's (npm jsonata 2.0.6). A state's Output
    gives what jsonata 2.0.6 itself answers for JavaScript's strings, regular expressions,
    numbers and dates."""
    outputs = {name: "{% " + e + " %}" for name, e in JAVASCRIPT_SEMANTICS.items()}
    deployed = deploy(local_engine, lambda stack: alone({"Type": "Pass", "Output": outputs}))
    bindings = {"states": {"input": {"big": 2**53 + 1}}}
    output = deployed.run(bindings["states"]["input"]).output
    reference = JSONataReference(step_functions=False)
    try:
        expected = reference.evaluate_many((e, bindings) for e in JAVASCRIPT_SEMANTICS.values())
    finally:
        reference.close()
    for name, outcome in zip(JAVASCRIPT_SEMANTICS, expected, strict=True):
        assert outcome.kind == "value" and output[name] == outcome.value, (name, output[name])


@pytest.mark.parametrize("name", JAVASCRIPT_REFUSALS)
def test_jsonata_refuses_what_javascript_jsonata_refuses(jsonata_reference, name):
    """As above, for what jsonata 2.0.6 refuses (the engine's evaluator, as a field)."""
    expression = JAVASCRIPT_REFUSALS[name]
    assert engine_outcome(expression, {}).kind == "error"
    assert jsonata_reference.evaluate(expression, {}).kind == "error"
