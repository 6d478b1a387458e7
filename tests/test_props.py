"""Wrong prop types and JSONPath work fail at construction, naming the prop and the fix."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.assertions import Template
from conftest import new_app, only_definition

from idempotent_workflows import (
    IdempotencyKey,
    IdempotencyProtocol,
    IdempotencyTable,
    IdempotentApi,
    IdempotentQueue,
    IdempotentWorkflow,
    TransactionRouter,
)
from idempotent_workflows.lambda_handlers import PYTHON_RUNTIME


@pytest.fixture
def stack() -> Stack:
    return Stack(new_app(), "Props")


def pass_work(stack: Stack, id: str = "Work") -> sfn.Pass:
    return sfn.Pass.jsonata(stack, id, outputs={"done": True})


def inline_function(stack: Stack, id: str) -> lambda_.Function:
    return lambda_.Function(
        stack,
        id,
        runtime=PYTHON_RUNTIME,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event"),
    )


@pytest.mark.parametrize(
    "props,message",
    [
        (
            {"key": "orderId"},
            r"IdempotentWorkflow: key must be an IdempotencyKey, got str 'orderId': "
            r"pass IdempotencyKey.from_fields\('orderId'\)",
        ),
        (
            {"lease": 300},
            r"IdempotentWorkflow: lease must be an aws_cdk.Duration, got int 300: "
            r"pass lease=Duration.seconds\(300\)",
        ),
        (
            {"record_ttl": "1 day"},
            r"record_ttl must be an aws_cdk.Duration, got str '1 day': "
            r"pass for example record_ttl=Duration.minutes\(5\)",
        ),
        ({"poll_interval": 2.5}, r"pass poll_interval=Duration.seconds\(2.5\)"),
        ({"max_polls": 3.0}, r"max_polls must be an int, got float 3.0"),
        ({"max_polls": True}, r"max_polls must be an int, got bool True"),
        ({"key_namespace": 7}, r"key_namespace must be a str, got int 7"),
        ({"workflow_type": "EXPRESS"}, r"workflow_type must be a StateMachineType"),
        ({"logs": {"level": "ALL"}}, r"logs must be a LogOptions, got dict"),
        ({"tracing_enabled": "yes"}, r"tracing_enabled must be a bool, got str 'yes'"),
        ({"state_machine_name": 1}, r"state_machine_name must be a str"),
        ({"removal_policy": "DESTROY"}, r"removal_policy must be a RemovalPolicy"),
        (
            {"table": "records"},
            r"table must be an aws_dynamodb.ITable or an IdempotencyTable, got str 'records': "
            r"pass IdempotencyTable\(...\).table",
        ),
    ],
)
def test_a_wrong_workflow_prop_names_the_prop_and_the_fix(stack, props, message):
    with pytest.raises(TypeError, match=message):
        IdempotentWorkflow(stack, "Workflow", work=pass_work(stack), **props)


def test_work_that_is_not_a_chainable_is_refused(stack):
    with pytest.raises(TypeError, match=r"work must be an aws_stepfunctions.IChainable"):
        IdempotentWorkflow(stack, "Workflow", work={"Type": "Pass"})


def test_an_idempotency_table_is_accepted_for_its_table(stack):
    records = IdempotencyTable(stack, "Records", removal_policy=RemovalPolicy.DESTROY)
    workflow = IdempotentWorkflow(stack, "Workflow", work=pass_work(stack), table=records)
    assert workflow.table is records.table
    Template.from_stack(stack).resource_count_is("AWS::DynamoDB::Table", 1)


def test_the_protocol_names_itself_in_its_errors(stack):
    table = IdempotencyTable(stack, "Records").table
    with pytest.raises(TypeError, match=r"^IdempotencyProtocol: lease must be"):
        IdempotencyProtocol(stack, "Protocol", work=pass_work(stack), table=table, lease=60)
    with pytest.raises(TypeError, match=r"^IdempotencyProtocol: table must be"):
        IdempotencyProtocol(stack, "Second", work=pass_work(stack, "Other"), table=None)
    with pytest.raises(ValueError, match=r"^IdempotencyProtocol: variable_prefix must be a "):
        IdempotencyProtocol(
            stack, "Third", work=pass_work(stack, "Third"), table=table, variable_prefix="1x"
        )


def test_a_variable_prefix_names_every_variable_of_the_protocol(stack):
    """Two protocols nest when the inner one has its own variables (and state names)."""
    table = IdempotencyTable(stack, "Records").table
    inner = IdempotencyProtocol(
        stack, "Inner", work=pass_work(stack), table=table, variable_prefix="charge"
    )
    inner.prefix_states("Charge")
    outer = IdempotencyProtocol(
        stack, "Outer", work=sfn.Parallel.jsonata(stack, "Wrap").branch(inner), table=table
    )
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(outer),
        query_language=sfn.QueryLanguage.JSONATA,
    )
    text = json.dumps(only_definition(stack))
    assigned = set(re.findall(r'\\?"((?:idem|charge)[A-Z][a-z]+)\\?":', text))
    assert assigned == {
        f"{prefix}{name}"
        for prefix in ("idem", "charge")
        for name in ("Key", "Polls", "Payload", "Error", "Record")
        if name != "Payload"  # no payload fields
    }


@pytest.mark.parametrize(
    "props,message",
    [
        ({"removal_policy": "RETAIN"}, r"IdempotencyTable: removal_policy must be a RemovalPolicy"),
        ({"encryption": "KMS"}, r"encryption must be a TableEncryption"),
        ({"encryption_key": "alias/mine"}, r"encryption_key must be an aws_kms.IKey"),
        ({"point_in_time_recovery": 1}, r"point_in_time_recovery must be a bool, got int 1"),
    ],
)
def test_a_wrong_table_prop_names_the_prop_and_the_fix(stack, props, message):
    with pytest.raises(TypeError, match=message):
        IdempotencyTable(stack, "Records", **props)


def test_a_wrong_router_function_names_the_prop(stack):
    with pytest.raises(TypeError, match=r"TransactionRouter: purchase_function must be an "):
        TransactionRouter(stack, "Router", purchase_function="arn:aws:lambda:purchase")
    router = TransactionRouter(stack, "Valid", refund_function=inline_function(stack, "Refund"))
    with pytest.raises(TypeError, match=r"TransactionRouter: function must be an aws_lambda"):
        router.add_route("CHARGEBACK", "chargeback-function")


# -- JSONPath work -------------------------------------------------------------------------


def test_work_with_jsonpath_fields_is_refused_with_the_jsonata_factories(stack):
    classic = tasks.LambdaInvoke(
        stack, "Charge", lambda_function=inline_function(stack, "Fn"), output_path="$.Payload"
    )
    with pytest.raises(ValueError) as raised:
        IdempotentWorkflow(stack, "Workflow", work=classic)
    message = str(raised.value)
    assert "Charge.OutputPath" in message
    assert "JSONata state machine" in message
    assert ".jsonata() factories" in message


def test_jsonpath_inside_a_parallel_branch_is_refused_at_synth():
    app = new_app()
    stack = Stack(app, "Nested")
    nested = sfn.Pass(stack, "Nested", result_path="$.nested")
    parallel = sfn.Parallel.jsonata(stack, "Fanout").branch(nested)
    IdempotentWorkflow(stack, "Workflow", work=parallel)
    with pytest.raises(RuntimeError, match=r"the work uses JSONPath \(Nested.ResultPath\)"):
        app.synth()


def test_a_jsonpath_choice_is_refused(stack):
    choice = sfn.Choice(stack, "Route").when(
        sfn.Condition.string_equals("$.type", "a"), pass_work(stack, "A")
    )
    with pytest.raises(ValueError, match=r"Route.Choices \(JSONPath conditions\)"):
        IdempotentWorkflow(stack, "Workflow", work=choice.otherwise(pass_work(stack, "B")))


def test_plain_states_without_jsonpath_fields_are_accepted(stack):
    """A state built without a factory but without JSONPath fields is valid JSONata."""
    IdempotentWorkflow(stack, "Workflow", work=sfn.Pass(stack, "Plain"))
    assert only_definition(stack)["QueryLanguage"] == "JSONata"


# -- embedding the protocol in an Express machine ------------------------------------------


def test_the_protocol_applies_the_express_limits_where_it_is_built(stack):
    table = IdempotencyTable(stack, "Records").table
    with pytest.raises(ValueError, match=r"lease \(900 s\) plus the worst-case retry waits"):
        IdempotencyProtocol(
            stack,
            "Protocol",
            work=pass_work(stack),
            table=table,
            lease=Duration.minutes(15),
            workflow_type=sfn.StateMachineType.EXPRESS,
        )
    protocol = IdempotencyProtocol(
        stack,
        "Embedded",
        work=pass_work(stack, "Work2"),
        table=table,
        key=IdempotencyKey.from_fields("id"),
        workflow_type=sfn.StateMachineType.EXPRESS,
    )
    assert protocol.lease_seconds == 90  # the Express default
    # Polls that outlast the lease, so that a waiter takes over from a holder that died:
    # 91 s / 10 s. With the work and the worst-case retries: 15 * 7 + 10 * 10 + 90 = 295 s.
    assert protocol.max_polls == 10
    with pytest.raises(
        ValueError,
        match=r"^IdempotencyProtocol: lease=120 s is too long for a waiter to outlast a holder "
        r"that died and still run the work: 13 polls of 10 s, .* take up to 376 s, over an "
        r"Express execution's 300 s: pass a lease of at most 95 s, pass max_polls to give up "
        r"earlier .*, or use workflow_type=StateMachineType.STANDARD\.$",
    ):
        IdempotencyProtocol(
            stack,
            "LongLease",
            work=pass_work(stack, "Work3"),
            table=table,
            lease=Duration.seconds(120),
            workflow_type=sfn.StateMachineType.EXPRESS,
        )
    # The user chose to give up earlier: the waiter then fails, saying when the lease ends.
    giving_up = IdempotencyProtocol(
        stack,
        "GivesUp",
        work=pass_work(stack, "Work4"),
        table=table,
        lease=Duration.seconds(120),
        max_polls=16,
        workflow_type=sfn.StateMachineType.EXPRESS,
    )
    assert giving_up.max_polls == 16


def embedded(
    stack: Stack,
    protocol_type: sfn.StateMachineType,
    machine_type: sfn.StateMachineType,
    *,
    nested: bool = False,
) -> None:
    """An ``IdempotencyProtocol`` in the user's own state machine (in a Parallel if nested)."""
    protocol = IdempotencyProtocol(
        stack,
        "Once",
        work=pass_work(stack),
        table=IdempotencyTable(stack, "Records").table,
        key=IdempotencyKey.from_fields("id"),
        workflow_type=protocol_type,
    )
    body = sfn.Parallel.jsonata(stack, "Outer").branch(protocol) if nested else protocol
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(body),
        query_language=sfn.QueryLanguage.JSONATA,
        state_machine_type=machine_type,
    )


STANDARD, EXPRESS = sfn.StateMachineType.STANDARD, sfn.StateMachineType.EXPRESS


@pytest.mark.parametrize(
    ("protocol_type", "machine_type", "nested"),
    [(STANDARD, EXPRESS, False), (EXPRESS, STANDARD, False), (STANDARD, EXPRESS, True)],
)
def test_a_protocol_built_for_another_machine_type_fails_synthesis(
    protocol_type, machine_type, nested
):
    """Its lease and poll bound would be those of the wrong type, silently."""
    app = new_app()
    embedded(Stack(app, "Embed"), protocol_type, machine_type, nested=nested)
    with pytest.raises(
        RuntimeError,
        match=rf"IdempotencyProtocol: workflow_type is {protocol_type.name}, but the protocol "
        rf"runs in the {machine_type.name} state machine 'Embed/Machine': pass "
        rf"workflow_type=sfn.StateMachineType.{machine_type.name}",
    ):
        app.synth()


@pytest.mark.parametrize("machine_type", [STANDARD, EXPRESS])
def test_a_protocol_in_a_machine_of_its_own_type_synthesizes(machine_type):
    app = new_app()
    embedded(Stack(app, "Embed"), machine_type, machine_type, nested=True)
    assert app.synth().get_stack_by_name("Embed").template


# -- one Duration rule; every error names the construct the user called --------------------


def protocol_in(stack: Stack, **props) -> IdempotencyProtocol:
    table = IdempotencyTable(stack, "Records").table
    return IdempotencyProtocol(stack, "Protocol", work=pass_work(stack), table=table, **props)


def api_in(stack: Stack, **props) -> IdempotentApi:
    return IdempotentApi(stack, "Api", work=pass_work(stack), **props)


@pytest.mark.parametrize(
    ("build", "prop", "owner"),
    [
        (
            lambda stack, **p: IdempotentWorkflow(stack, "W", work=pass_work(stack), **p),
            "lease",
            "IdempotentWorkflow",
        ),
        (api_in, "poll_interval", "IdempotentApi"),
        (api_in, "lease", "IdempotentApi"),
        (protocol_in, "record_ttl", "IdempotencyProtocol"),
    ],
)
def test_a_duration_of_milliseconds_is_refused_naming_the_construct(stack, build, prop, owner):
    """A raw jsii error (``cannot be converted into a whole number of seconds``) before."""
    with pytest.raises(
        ValueError,
        match=rf"^{owner}: {prop} must be a whole number of seconds .*, got 1500 ms: pass for "
        rf"example {prop}=Duration.seconds\(2\)\.$",
    ):
        build(stack, **{prop: Duration.millis(1500)})


def test_a_max_polls_that_is_not_a_number_is_refused_naming_the_api(stack):
    """Python's "'>' not supported between instances of 'str' and 'int'" before."""
    with pytest.raises(
        TypeError, match=r"^IdempotentApi: max_polls must be an int, got str '3': pass a whole"
    ):
        api_in(stack, max_polls="3")


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"lease": Duration.seconds(0)}, r"lease must be at least 1 second, got 0 s"),
        ({"poll_interval": Duration.seconds(0)}, r"poll_interval must be at least 1 second"),
        ({"record_ttl": Duration.minutes(10)}, r"record_ttl \(600 s\) must be longer than lease"),
        ({"max_polls": 0}, r"max_polls must be at least 1, got 0"),
        ({"key_namespace": ""}, r"key_namespace must not be empty"),
        (
            {"workflow_type": sfn.StateMachineType.EXPRESS, "lease": Duration.minutes(5)},
            r"lease \(300 s\) plus the worst-case retry waits .* Express execution",
        ),
    ],
)
def test_the_protocols_value_errors_name_it(stack, props, message):
    """They named no construct before."""
    with pytest.raises(ValueError, match=rf"^IdempotencyProtocol: {message}"):
        protocol_in(stack, **props)


@pytest.mark.parametrize(
    ("props", "error", "message"),
    [
        ({"lease": 60}, TypeError, r"lease must be an aws_cdk.Duration, got int 60"),
        ({"table": "records"}, TypeError, r"table must be an aws_dynamodb.ITable"),
        ({"dynamodb_retry": 2}, TypeError, r"dynamodb_retry must be a RetryPolicy"),
        (
            {"record_ttl": Duration.minutes(1)},
            ValueError,
            r"record_ttl \(60 s\) must be longer than lease \(90 s\)",
        ),
        (
            {"lease": Duration.minutes(5)},
            ValueError,
            r"lease \(300 s\) plus the worst-case retry waits of the holder's writes \(3 x 3 s\)",
        ),
    ],
)
def test_errors_of_the_apis_workflow_props_name_the_api(stack, props, error, message):
    """They named IdempotentWorkflow (or nothing) before."""
    with pytest.raises(error, match=rf"^IdempotentApi: {message}"):
        api_in(stack, **props)


def test_the_api_refuses_a_workflow_type_saying_it_is_always_express(stack):
    """Python's bare "unexpected keyword argument" before."""
    with pytest.raises(
        TypeError,
        match=r"^IdempotentApi: workflow_type cannot be set, got StateMachineType.STANDARD: "
        r"the API always runs an Express workflow",
    ):
        api_in(stack, workflow_type=sfn.StateMachineType.STANDARD)


def test_jsonpath_work_given_to_the_api_is_refused_at_construction_naming_it(stack):
    """It surfaced at app.synth() only, through jsii, naming IdempotencyProtocol, before."""
    classic = tasks.LambdaInvoke(stack, "Charge", lambda_function=inline_function(stack, "Fn"))
    with pytest.raises(ValueError) as raised:
        IdempotentApi(stack, "Api", work=classic)
    message = str(raised.value)
    assert message.startswith("IdempotentApi: the work uses JSONPath (Charge.Parameters)")
    assert "tasks.LambdaInvoke.jsonata(" in message
    assert "instead of output_path" not in message  # no prop the user never passed


@pytest.mark.parametrize(
    ("props", "error", "message"),
    [
        ({"key_fields": "orderId"}, TypeError, r"key_fields must be a sequence of field paths"),
        ({"key_fields": ()}, ValueError, r"key_fields must name at least one field"),
        ({"key_fields": ["a b"]}, ValueError, r"key_fields got 'a b': expected a dotted"),
        ({"max_receive_count": 0}, ValueError, r"max_receive_count must be at least 1"),
        ({"table": 5}, TypeError, r"table must be an aws_dynamodb.ITable"),
        ({"workflow_type": "EXPRESS"}, TypeError, r"workflow_type must be a StateMachineType"),
    ],
)
def test_errors_of_the_queues_props_name_the_queue(stack, props, error, message):
    with pytest.raises(error, match=rf"^IdempotentQueue: {message}"):
        IdempotentQueue(stack, "Queue", work=pass_work(stack), **props)
