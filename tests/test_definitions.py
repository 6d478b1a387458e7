"""The synthesized templates, read state by state, and every public prop at a non-default value."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Annotations, Match, Template
from botocore.exceptions import ClientError
from conftest import WORKFLOW_STACKS, as_list, new_app, only_definition, template_json

from idempotent_workflows import (
    TRANSIENT_LAMBDA_ERRORS,
    IdempotencyKey,
    IdempotencyTable,
    IdempotentWorkflow,
    RetryPolicy,
    TransactionRouter,
)
from idempotent_workflows import (
    ProtocolState as S,
)
from idempotent_workflows.examples import IdempotentWorkflowStack, TransactionStack
from idempotent_workflows.lambda_handlers import PYTHON_RUNTIME
from idempotent_workflows.private import record
from idempotent_workflows.private.jsonata_expressions import field_selection
from idempotent_workflows.testing import work_branch

DYNAMODB = "arn:aws:states:::dynamodb:"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def tasks_outside_work(definition: dict) -> list[str]:
    """Resources of the top-level states; the work's states are nested in RunWork."""
    return [state.get("Resource", "") for state in definition["States"].values()]


@pytest.mark.parametrize(
    "name",
    WORKFLOW_STACKS,
)
def test_protocol_states(example_stacks, name):
    definition = only_definition(example_stacks[name])
    states = definition["States"]
    assert definition["QueryLanguage"] == "JSONata"
    assert definition["StartAt"] == S.ACQUIRE_LOCK

    acquire = states[S.ACQUIRE_LOCK]
    assert acquire["Resource"] == DYNAMODB + "updateItem"
    assert acquire["Arguments"]["ConditionExpression"] == record.ACQUIRE_CONDITION
    validates_payload = name.startswith(("Transaction", "PaymentsApi"))
    assert acquire["Arguments"]["UpdateExpression"] == (
        record.ACQUIRE_UPDATE_WITH_PAYLOAD if validates_payload else record.ACQUIRE_UPDATE
    )
    # Each acquire counts itself, in the same write (the operator's attempts).
    assert acquire["Arguments"]["UpdateExpression"].endswith("REMOVE #result ADD #attempts :one")
    assert acquire["Arguments"]["ExpressionAttributeNames"]["#attempts"] == "attempts"
    assert acquire["Arguments"]["ExpressionAttributeValues"][":one"] == {"N": "1"}
    assert acquire["Next"] == S.RUN_WORK
    assert [(c["ErrorEquals"], c["Next"]) for c in acquire["Catch"]] == [
        (["DynamoDB.ConditionalCheckFailedException"], S.READ_RECORD),
        (["States.QueryEvaluationError"], S.INVALID_KEY),
    ]
    # DynamoDB rejects unused placeholders: each call carries only its own.
    for state_name in (S.ACQUIRE_LOCK, S.STORE_RESULT, S.RECORD_FAILURE):
        arguments = states[state_name]["Arguments"]
        used = record.placeholders(
            [arguments["UpdateExpression"], arguments["ConditionExpression"]]
        )
        assert (
            set(arguments["ExpressionAttributeNames"]) | set(arguments["ExpressionAttributeValues"])
            == used
        )

    run_work = states[S.RUN_WORK]
    assert run_work["Type"] == "Parallel" and len(run_work["Branches"]) == 1
    assert run_work["Next"] == S.STORE_RESULT
    assert [(c["ErrorEquals"], c["Next"]) for c in run_work["Catch"]] == [
        (["States.DataLimitExceeded"], S.RECORD_FAILURE),
        (["States.ALL"], S.RECORD_FAILURE),
    ]

    store = states[S.STORE_RESULT]
    assert store["Arguments"]["ConditionExpression"] == record.OWNS_LOCK
    assert store["Arguments"]["UpdateExpression"] == record.SUCCEED_UPDATE
    assert store["End"] is True
    assert store["Catch"][0] == {
        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
        "Next": S.LOCK_LOST,
    }
    assert states[S.RECORD_FAILURE]["Arguments"]["ConditionExpression"] == record.OWNS_LOCK
    assert states[S.RECORD_FAILURE]["Next"] == S.FAIL_WITH_WORK_ERROR

    # The API's workflow retries less and polls sooner, to fit API Gateway's 29 s.
    attempts, max_delay, poll = (2, 2, 2) if name == "PaymentsApi" else (3, 4, 10)
    for state_name in (S.ACQUIRE_LOCK, S.STORE_RESULT, S.RECORD_FAILURE, S.READ_RECORD):
        assert states[state_name]["Retry"] == [
            {
                # Throttling and server errors, in both reported spellings; never a failed
                # condition, which is an answer.
                "ErrorEquals": [
                    "DynamoDB.ProvisionedThroughputExceededException",
                    "DynamoDB.ThrottlingException",
                    "DynamoDB.RequestLimitExceeded",
                    "DynamoDB.RequestLimitExceededException",
                    "DynamoDB.InternalServerError",
                    "DynamoDB.InternalServerErrorException",
                    "DynamoDB.ServiceUnavailable",
                    "DynamoDB.ServiceUnavailableException",
                ],
                "IntervalSeconds": 1,
                "MaxAttempts": attempts,
                "BackoffRate": 2,
                "MaxDelaySeconds": max_delay,
                "JitterStrategy": "FULL",
            }
        ], state_name
    assert not any("Retry" in state for state in (states[S.RUN_WORK], states[S.CHECK_RECORD]))

    read = states[S.READ_RECORD]
    assert read["Resource"] == DYNAMODB + "getItem"
    assert read["Arguments"]["ConsistentRead"] is True
    assert read["Next"] == S.CHECK_RECORD
    check = states[S.CHECK_RECORD]
    assert [choice["Next"] for choice in check["Choices"]] == [
        *([S.PAYLOAD_MISMATCH] if validates_payload else []),
        S.RETURN_STORED_RESULT,
        S.RESULT_TOO_LARGE,
        S.LOCK_WAIT_TIMEOUT,
        S.WAIT_FOR_LOCK,
    ]
    assert check["Default"] == S.ACQUIRE_LOCK
    assert states[S.WAIT_FOR_LOCK] == {
        "Type": "Wait",
        "Seconds": poll,
        "Assign": {"idemPolls": "{% $idemPolls + 1 %}"},
        "Next": S.READ_RECORD,
    }
    assert states[S.RETURN_STORED_RESULT]["End"] is True
    assert states[S.LOCK_WAIT_TIMEOUT]["Error"] == "Idempotency.LockWaitTimeout"
    assert states[S.LOCK_LOST]["Error"] == "Idempotency.LockLost"
    assert states[S.INVALID_KEY]["Error"] == "Idempotency.InvalidKey"
    # Outside the work, the machinery invokes no Lambda function.
    assert not [r for r in tasks_outside_work(definition) if "lambda" in r]


def test_demo_work_is_four_steps_and_the_random_failure(example_stacks):
    branch = work_branch(only_definition(example_stacks["IdempotentWorkflowStandard"]))
    assert branch["StartAt"] == "Step1"
    order, state = [], "Step1"
    while state:
        order.append(state)
        state = branch["States"][state].get("Next")
    assert order == ["Step1", "Step2", "Step3", "Step4", "RandomFailure"]
    assert branch["States"]["RandomFailure"]["Resource"] == LAMBDA_INVOKE


def test_the_payment_retries_lambdas_transient_errors_briefly(example_stacks):
    """Within API Gateway's 29 s: two retries, at most 1 + 2 s apart."""
    (retry,) = work_branch(only_definition(example_stacks["PaymentsApi"]))["States"]["Charge"][
        "Retry"
    ]
    assert retry["ErrorEquals"] == list(TRANSIENT_LAMBDA_ERRORS)
    assert (retry["MaxAttempts"], retry["IntervalSeconds"], retry["MaxDelaySeconds"]) == (2, 1, 2)


def test_router_states(example_stacks):
    branch = work_branch(only_definition(example_stacks["TransactionStandard"]))
    states = branch["States"]
    assert branch["StartAt"] == "RouteByTransactionType"
    choice = states["RouteByTransactionType"]
    assert [(c["Condition"], c["Next"]) for c in choice["Choices"]] == [
        ('{% $states.input.TransactionType = "PURCHASE" %}', "ProcessPurchase"),
        ('{% $states.input.TransactionType = "REFUND" %}', "ProcessRefund"),
    ]
    assert choice["Default"] == "UnknownTransactionType"
    unknown = states["UnknownTransactionType"]
    assert unknown["Error"] == "Transaction.UnknownType"
    assert "accepted types: PURCHASE, REFUND." in unknown["Cause"]
    for task_name, function in (("ProcessPurchase", "Purchase"), ("ProcessRefund", "Refund")):
        task = states[task_name]
        assert task["Resource"] == LAMBDA_INVOKE
        assert task["Arguments"]["FunctionName"].startswith(f"<{function}Function")
        (retry,) = task["Retry"]  # RetryPolicy() on Lambda's transient errors
        assert retry == {
            "ErrorEquals": list(TRANSIENT_LAMBDA_ERRORS),
            "IntervalSeconds": 1,
            "MaxAttempts": 3,
            "BackoffRate": 2,
            "MaxDelaySeconds": 4,
            "JitterStrategy": "FULL",
        }
        assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"]
        assert task["Catch"] == [
            {
                "ErrorEquals": ["States.ALL"],
                "Next": "TransactionFailed",
                "Output": "{% $states.errorOutput %}",
            }
        ]


@pytest.mark.parametrize(
    "name,express",
    [
        ("IdempotentWorkflowStandard", False),
        ("IdempotentWorkflowExpress", True),
        ("TransactionStandard", False),
        ("TransactionExpress", True),
    ],
)
def test_state_machine_logging_tracing_and_type(example_stacks, name, express):
    template = Template.from_stack(example_stacks[name])
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "EXPRESS" if express else "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                # ALL for the protocol's metrics; no execution data, whatever the type (cost).
                "Level": "ALL",
                "IncludeExecutionData": False,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": Match.any_value()}}],
            },
        },
    )


def test_table_and_functions(example_stacks):
    template = Template.from_stack(example_stacks["TransactionStandard"])
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )
    functions = template.find_resources("AWS::Lambda::Function")
    assert len(functions) == 2
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Runtime"] == PYTHON_RUNTIME.name == "python3.14"
        assert properties["MemorySize"] == 256 and properties["Timeout"] == 10
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert "LogGroup" in properties["LoggingConfig"]
    for log_group in template.find_resources("AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] == 30


def test_jmespath_mode_is_the_only_one_with_a_lambda_in_the_machinery():
    stack = IdempotentWorkflowStack(new_app(), "Jmespath", key=IdempotencyKey.from_input_jmespath())
    definition = only_definition(stack)
    assert definition["StartAt"] == S.COMPUTE_KEY
    compute = definition["States"][S.COMPUTE_KEY]
    assert compute["Resource"] == LAMBDA_INVOKE
    assert compute["Next"] == S.ACQUIRE_LOCK
    assert compute["Catch"][0]["Next"] == S.INVALID_KEY


def test_every_workflow_prop_at_a_non_default_value():
    app = new_app()
    stack = Stack(app, "Props")
    table = dynamodb.Table.from_table_name(stack, "Existing", "existing-records")
    log_group = logs.LogGroup(stack, "MyLogs")
    workflow = IdempotentWorkflow(
        stack,
        "Workflow",
        work=sfn.Pass.jsonata(stack, "Work"),
        table=table,
        key=IdempotencyKey.from_fields("order.id", "customer"),
        key_namespace="orders-v2",
        record_ttl=Duration.hours(2),
        lease=Duration.minutes(3),
        poll_interval=Duration.seconds(5),
        max_polls=7,
        workflow_type=sfn.StateMachineType.EXPRESS,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ERROR),
        tracing_enabled=False,
        state_machine_name="orders",
        removal_policy=RemovalPolicy.DESTROY,
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::DynamoDB::Table", 0)
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineName": "orders",
            "StateMachineType": "EXPRESS",
            "TracingConfiguration": {"Enabled": False},
            "LoggingConfiguration": Match.object_like({"Level": "ERROR"}),
        },
    )
    states = only_definition(stack)["States"]
    acquire = states[S.ACQUIRE_LOCK]["Arguments"]
    assert acquire["TableName"] == "existing-records"
    key = acquire["Key"]["id"]["S"]
    assert '"orders-v2#"' in key
    assert field_selection("$states.input", ("order.id", "customer")) in key
    values = acquire["ExpressionAttributeValues"]
    assert values[":lease"]["N"].endswith("+ 180) %}")
    assert values[":ttl"]["N"].endswith("+ 7200) %}")
    assert states[S.WAIT_FOR_LOCK]["Seconds"] == 5
    (give_up,) = [c for c in states[S.CHECK_RECORD]["Choices"] if c["Next"] == S.LOCK_WAIT_TIMEOUT]
    assert "$idemPolls >= 7" in give_up["Condition"]
    assert workflow.table is table
    Annotations.from_stack(stack).has_warning(
        "/Props/Workflow", Match.string_like_regexp("Express executions keep no history")
    )
    assert workflow.metric_failed().metric_name == "ExecutionsFailed"
    assert workflow.metric("ExecutionsAborted").metric_name == "ExecutionsAborted"


def test_table_props_at_non_default_values():
    stack = Stack(new_app(), "TableProps")
    IdempotencyTable(
        stack,
        "Records",
        removal_policy=RemovalPolicy.DESTROY,
        encryption=dynamodb.TableEncryption.DEFAULT,
        point_in_time_recovery=False,
    )
    template = template_json(stack)
    (table,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": False}
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": False
    }
    assert "DeletionProtectionEnabled" not in table["Properties"]  # destroyable: as before


@pytest.mark.parametrize(
    ("props", "protected"),
    [
        ({}, True),  # retained: CloudFormation keeps it, and nobody deletes it by hand
        ({"removal_policy": RemovalPolicy.DESTROY, "deletion_protection": True}, True),
        ({"deletion_protection": False}, False),
    ],
)
def test_a_retained_table_is_protected_from_deletion(props, protected):
    stack = Stack(new_app(), "Protected")
    IdempotencyTable(stack, "Records", **props)
    (table,) = Template.from_stack(stack).find_resources("AWS::DynamoDB::Table").values()
    assert table["Properties"]["DeletionProtectionEnabled"] is protected


def test_the_engine_refuses_to_delete_a_protected_table(local_engine):
    stack = Stack(new_app(), "ProtectedTable")
    IdempotentWorkflow(stack, "Workflow", work=sfn.Pass.jsonata(stack, "Work"))  # retained
    deployed = local_engine.deploy(stack)
    with pytest.raises(ClientError, match="while DeletionProtectionEnabled is set to True"):
        local_engine.dynamodb.delete_table(TableName=deployed.table())


def test_grant_start_execution_covers_sync_starts_for_express():
    stack = Stack(new_app(), "Grants")
    workflow = IdempotentWorkflow(
        stack,
        "Workflow",
        work=sfn.Pass.jsonata(stack, "Work"),
        workflow_type=sfn.StateMachineType.EXPRESS,
    )
    function = lambda_.Function(
        stack,
        "Caller",
        runtime=PYTHON_RUNTIME,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c): pass"),
    )
    grant = workflow.grant_start_execution(function)
    granted = {
        action
        for statement in grant.principal_statements
        for action in as_list(statement.to_statement_json()["Action"])
    }
    assert granted == {"states:StartExecution", "states:StartSyncExecution"}
    statements = [
        s
        for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert {"states:StartExecution", "states:StartSyncExecution"} <= actions


# -- validation ----------------------------------------------------------------------------


def workflow(**props):
    stack = Stack(new_app(), "Invalid")
    return IdempotentWorkflow(stack, "Workflow", work=sfn.Pass.jsonata(stack, "Work"), **props)


@pytest.mark.parametrize(
    "props,message",
    [
        (
            {"workflow_type": sfn.StateMachineType.EXPRESS, "lease": Duration.minutes(6)},
            r"^IdempotentWorkflow: lease \(360 s\) plus the worst-case retry waits of the "
            r"holder's writes \(3 x 7 s\) is 381 s, but an Express execution ends within 300 s: "
            r"pass a lease of at most 279 s",
        ),
        (
            {"workflow_type": sfn.StateMachineType.EXPRESS, "max_polls": 31},
            r"^IdempotentWorkflow: max_polls=31 polls of 10 s, with the worst-case retry waits "
            r"\(7 s per DynamoDB call\), cannot end within an Express execution's 300 s: lower "
            r"max_polls to at most 16, or use workflow_type=StateMachineType.STANDARD\.",
        ),
        (
            {"poll_interval": Duration.seconds(0)},
            r"^IdempotentWorkflow: poll_interval must be at least 1 second, got 0 s",
        ),
        ({"lease": Duration.seconds(0)}, r"^IdempotentWorkflow: lease must be at least 1 second"),
        (
            {"record_ttl": Duration.minutes(10)},
            r"^IdempotentWorkflow: record_ttl \(600 s\) must be longer than lease \(900 s\)",
        ),
        ({"max_polls": 0}, r"^IdempotentWorkflow: max_polls must be at least 1, got 0"),
        ({"key_namespace": ""}, r"^IdempotentWorkflow: key_namespace must not be empty"),
        (
            {"workflow_type": "EXPRESS"},
            r"^IdempotentWorkflow: workflow_type must be a StateMachineType",
        ),
    ],
)
def test_bad_props_fail_at_construction_with_the_fix(props, message):
    with pytest.raises((ValueError, TypeError), match=message):
        workflow(**props)


@pytest.mark.parametrize(
    "paths,message",
    [
        ((), "got no field"),
        (("a b",), "expected a dotted field path"),
        (("a", "a"), "repeated field"),
    ],
)
def test_empty_or_bad_key_selection_is_rejected(paths, message):
    with pytest.raises(ValueError, match=message):
        IdempotencyKey.from_fields(*paths)


def test_router_without_routes_fails_at_synth():
    app = new_app()
    stack = Stack(app, "NoRoutes")
    IdempotentWorkflow(stack, "Workflow", work=TransactionRouter(stack, "Router"))
    with pytest.raises(RuntimeError, match="TransactionRouter has no routes"):
        app.synth()


def test_router_rejects_a_second_route_for_a_type():
    stack = Stack(new_app(), "Twice")
    function = lambda_.Function.from_function_name(stack, "F", "f")
    router = TransactionRouter(stack, "Router", purchase_function=function)
    with pytest.raises(ValueError, match="'PURCHASE' already has a route"):
        router.add_route("PURCHASE", function)
    with pytest.raises(ValueError, match="non-empty string"):
        router.add_route(" ", function)


def test_example_stack_props_at_non_default_values():
    app = new_app()
    demo = IdempotentWorkflowStack(
        app, "DemoProps", failure_rate="0.1", removal_policy=RemovalPolicy.RETAIN
    )
    template = Template.from_stack(demo)
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Environment": {"Variables": {"FAILURE_RATE": "0.1"}}}
    )
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain"})
    transactions = TransactionStack(
        new_app(),
        "TransactionProps",
        workflow_type=sfn.StateMachineType.EXPRESS,
        removal_policy=RemovalPolicy.RETAIN,
    )
    template = Template.from_stack(transactions)
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain"})
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineType": "EXPRESS"}
    )


# -- retries and payload validation --------------------------------------------------------


def test_retry_policy_at_non_default_values_and_off():
    stack = Stack(new_app(), "Retries")
    IdempotentWorkflow(
        stack,
        "Custom",
        work=sfn.Pass.jsonata(stack, "Work"),
        dynamodb_retry=RetryPolicy(
            max_attempts=5,
            interval=Duration.seconds(2),
            backoff_rate=3,
            max_delay=Duration.seconds(20),
        ),
    )
    IdempotentWorkflow(
        Stack(stack.node.scope, "NoRetries"),
        "Off",
        work=sfn.Pass.jsonata(stack.node.scope.node.find_child("NoRetries"), "Work"),
        dynamodb_retry=RetryPolicy.off(),
    )
    (retry,) = only_definition(stack)["States"][S.STORE_RESULT]["Retry"]
    assert (retry["MaxAttempts"], retry["IntervalSeconds"], retry["BackoffRate"]) == (5, 2, 3)
    assert retry["MaxDelaySeconds"] == 20
    off = only_definition(stack.node.scope.node.find_child("NoRetries"))["States"]
    assert not [name for name, state in off.items() if "Retry" in state]
    # Waits of at most 2, 6, 18, then 20 and 20 (capped): 66 s in the worst case.
    assert (
        RetryPolicy(
            max_attempts=5,
            interval=Duration.seconds(2),
            backoff_rate=3,
            max_delay=Duration.seconds(20),
        ).worst_case_seconds
        == 66
    )
    assert RetryPolicy().worst_case_seconds == 1 + 2 + 4
    assert RetryPolicy.off().worst_case_seconds == 0


@pytest.mark.parametrize(
    "props,message",
    [
        ({"max_attempts": -1}, "max_attempts must be a whole number from 0 to 10"),
        ({"backoff_rate": 0.5}, "backoff_rate must be from 1 to 10"),
        ({"interval": 1}, r"interval must be an aws_cdk.Duration, got int 1"),
        ({"max_delay": Duration.millis(1500)}, "max_delay must be a whole number of seconds"),
        ({"interval": Duration.seconds(0)}, "interval must be at least 1 second"),
    ],
)
def test_a_bad_retry_policy_is_refused(props, message):
    with pytest.raises((TypeError, ValueError), match=message):
        RetryPolicy(**props)


def test_express_without_retries_gets_the_polls_that_cover_the_lease():
    stack = Stack(new_app(), "NoRetryExpress")
    workflow = IdempotentWorkflow(
        stack,
        "Workflow",
        work=sfn.Pass.jsonata(stack, "Work"),
        workflow_type=sfn.StateMachineType.EXPRESS,
        dynamodb_retry=RetryPolicy.off(),
    )
    # 91 s / 10 s: the polls outlast the 90 s lease (the record counts whole seconds).
    assert workflow.protocol.max_polls == 10


def test_payload_validation_stores_and_compares_a_fingerprint(example_stacks):
    states = only_definition(example_stacks["TransactionStandard"])["States"]
    acquire = states[S.ACQUIRE_LOCK]
    assert acquire["Arguments"]["UpdateExpression"] == record.ACQUIRE_UPDATE_WITH_PAYLOAD
    payload = acquire["Arguments"]["ExpressionAttributeValues"][":payload"]["S"]
    assert field_selection("$states.input", ("TransactionType", "Amount")) in payload
    assert acquire["Catch"][0]["Assign"]["idemPayload"] == "{% " + payload.removeprefix("{% ")
    first = states[S.CHECK_RECORD]["Choices"][0]
    assert first["Next"] == S.PAYLOAD_MISMATCH
    assert "$idemRecord.payloadhash.S != $idemPayload" in first["Condition"]
    assert states[S.PAYLOAD_MISMATCH]["Error"] == "Idempotency.PayloadMismatch"
    plain = only_definition(example_stacks["IdempotentWorkflowStandard"])["States"]
    assert S.PAYLOAD_MISMATCH not in plain
    assert plain[S.ACQUIRE_LOCK]["Arguments"]["UpdateExpression"] == record.ACQUIRE_UPDATE


@pytest.mark.parametrize("fields", ["Amount", ["a b"], ["Amount", "Amount"]])
def test_bad_payload_fields_are_refused(fields):
    with pytest.raises((TypeError, ValueError), match="payload_fields"):
        workflow(payload_fields=fields)
