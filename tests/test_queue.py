"""IdempotentQueue: SQS -> EventBridge Pipe -> workflow; a redelivery runs the work once."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App, RemovalPolicy, Stack, Validations
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from conftest import CONTEXT, as_list

from idempotent_workflows import IdempotentQueue, acknowledge_findings, handler_function
from idempotent_workflows import ProtocolState as S


def queue_stack(app: App, **props) -> tuple[Stack, IdempotentQueue]:
    stack = Stack(app, "Orders")
    charge = handler_function(
        stack, "ChargeFunction", folder="payments", entry="charge", description="Charges"
    )
    work = tasks.LambdaInvoke.jsonata(
        stack,
        "Charge",
        lambda_function=charge,
        payload=sfn.TaskInput.from_object({"body": "{% $states.input[0].body %}"}),
        outputs="{% $states.result.Payload %}",
    )
    queue = IdempotentQueue(
        stack, "Orders", work=work, removal_policy=RemovalPolicy.DESTROY, **props
    )
    return stack, queue


def pipe_input(template: dict, message: dict) -> list:
    """What the pipe hands Step Functions for one SQS message: its InputTemplate, in an array."""
    (pipe,) = Template.from_json(template).find_resources("AWS::Pipes::Pipe").values()
    text = pipe["Properties"]["TargetParameters"]["InputTemplate"]
    return [json.loads(re.sub(r"<\$\.(\w+)>", lambda m: json.dumps(message[m[1]]), text))]


def test_the_pipe_starts_the_workflow_asynchronously_once_per_message():
    stack, _ = queue_stack(App(context=CONTEXT))
    template = Template.from_stack(stack).to_json()
    (pipe,) = Template.from_json(template).find_resources("AWS::Pipes::Pipe").values()
    properties = pipe["Properties"]
    assert properties["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 1
    target = properties["TargetParameters"]["StepFunctionStateMachineParameters"]
    assert target["InvocationType"] == "FIRE_AND_FORGET"
    (machine,) = (
        Template.from_json(template).find_resources("AWS::StepFunctions::StateMachine").values()
    )
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    queues = Template.from_json(template).find_resources("AWS::SQS::Queue")
    redrive = [
        q["Properties"]["RedrivePolicy"]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    ]
    assert [r["maxReceiveCount"] for r in redrive] == [5]


def test_the_pipe_role_may_read_its_queue_and_start_its_workflow_only():
    stack, queue = queue_stack(App(context=CONTEXT))
    template = Template.from_stack(stack).to_json()
    role = template["Resources"][stack.resolve(queue.pipe.role_arn)["Fn::GetAtt"][0]]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "pipes.amazonaws.com"
    }
    actions = {
        action
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        and any(r["Ref"].startswith("OrdersPipeRole") for r in resource["Properties"]["Roles"])
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        for action in as_list(statement["Action"])
    }
    assert actions == {
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "states:StartExecution",
    }


def test_cdk_nag_and_cfn_lint_pass(tmp_path):
    app = App(context=CONTEXT, outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks(), ServerlessChecks())
    queue_stack(app)
    acknowledge_findings(app)
    assembly = app.synth()  # raises on any finding that is not acknowledged
    cfn_lint = shutil.which("cfn-lint")
    assert cfn_lint is not None
    template = Path(assembly.directory) / "Orders.template.json"
    result = subprocess.run([cfn_lint, str(template)], capture_output=True, text=True)
    assert result.returncode & 2 == 0, result.stdout  # bit 2: errors


@pytest.fixture
def orders(local_engine):
    stack, _ = queue_stack(App(context=CONTEXT))
    return local_engine.deploy(stack)


def test_a_redelivered_message_runs_the_work_once(orders):
    message = {"messageId": "m-1", "body": {"amount": 25, "currency": "EUR"}, "receiptHandle": "a"}
    first = orders.start(pipe_input(orders.template, message)).wait()
    redelivered = orders.start(pipe_input(orders.template, {**message, "receiptHandle": "b"}))
    assert first.status == "SUCCEEDED" and first.output["status"] == "CHARGED"
    assert redelivered.wait().output == first.output
    assert redelivered.states_entered[-1] == S.RETURN_STORED_RESULT
    assert orders.function("Charge").invocations == 1
    (record,) = orders.items()
    assert json.loads(record["executionresult"]) == first.output  # the result, for the producer


def test_concurrent_redeliveries_run_the_work_once(orders, local_engine):
    local_engine.wait_scale = 0.05  # a 10 s poll takes 500 ms: the waiters outlast the work
    orders.function("Charge").latency = 0.3
    message = {"messageId": "m-2", "body": {"amount": 5, "currency": "EUR"}}
    started = [orders.start(pipe_input(orders.template, message)) for _ in range(3)]
    assert [e.wait().status for e in started] == ["SUCCEEDED"] * 3
    assert len({json.dumps(e.output) for e in started}) == 1
    assert orders.function("Charge").invocations == 1


def test_a_body_field_key_makes_a_resent_request_a_duplicate(local_engine):
    stack, _ = queue_stack(App(context=CONTEXT), key_fields=["body.orderId"])
    deployed = local_engine.deploy(stack)
    body = {"orderId": "o-1", "amount": 5, "currency": "EUR"}
    for message_id in ("m-3", "m-4"):  # the producer sent the same order twice
        deployed.start(
            pipe_input(deployed.template, {"messageId": message_id, "body": body})
        ).wait()
    assert deployed.function("Charge").invocations == 1
