"""IdempotentQueue: SQS -> EventBridge Pipe -> workflow; a redelivery runs the work once, and a
message whose work fails is tried again, then dead-lettered, never lost."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
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
from idempotent_workflows.testing.run.pipes import render_input_template

STANDARD, EXPRESS = sfn.StateMachineType.STANDARD, sfn.StateMachineType.EXPRESS


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
    record = {**message, "body": json.dumps(message["body"])}  # SQS bodies are text
    return [render_input_template(text, record)]


def test_express_the_pipe_waits_for_each_execution_so_that_a_failure_keeps_the_message():
    stack, _ = queue_stack(App(context=CONTEXT))
    template = Template.from_stack(stack)
    (pipe,) = template.find_resources("AWS::Pipes::Pipe").values()
    properties = pipe["Properties"]
    assert properties["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 1
    target = properties["TargetParameters"]["StepFunctionStateMachineParameters"]
    assert target["InvocationType"] == "REQUEST_RESPONSE"  # StartSyncExecution
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    queues = template.find_resources("AWS::SQS::Queue")
    (source,) = [q["Properties"] for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    assert source["RedrivePolicy"]["maxReceiveCount"] == 5
    # Hidden while its execution runs (at most 5 minutes), so it never comes back meanwhile.
    assert source["VisibilityTimeout"] == 330


def test_standard_the_pipe_starts_the_workflow_which_retries_and_dead_letters_itself():
    stack, queue = queue_stack(App(context=CONTEXT), workflow_type=STANDARD)
    template = Template.from_stack(stack)
    (pipe,) = template.find_resources("AWS::Pipes::Pipe").values()
    target = pipe["Properties"]["TargetParameters"]["StepFunctionStateMachineParameters"]
    assert target["InvocationType"] == "FIRE_AND_FORGET"  # the only one Standard allows
    states = json.loads(
        "".join(
            part if isinstance(part, str) else "ARN"
            for part in template.find_resources("AWS::StepFunctions::StateMachine").popitem()[1][
                "Properties"
            ]["DefinitionString"]["Fn::Join"][1]
        )
    )
    assert states["StartAt"] == "Deliver"
    deliver = states["States"]["Deliver"]
    assert [(r["ErrorEquals"], r["MaxAttempts"]) for r in deliver["Retry"]] == [
        (
            ["Idempotency.InvalidKey", "Idempotency.PayloadMismatch", "Idempotency.ResultTooLarge"],
            0,
        ),
        (["States.ALL"], 4),  # five tries in all, as the queue's maxReceiveCount
    ]
    assert [c["Next"] for c in deliver["Catch"]] == ["SendToDeadLetters"] * 2
    send = states["States"]["SendToDeadLetters"]
    assert send["Resource"].endswith(":states:::sqs:sendMessage")
    assert send["Next"] == "Failed"
    queues = template.find_resources("AWS::SQS::Queue")
    (source,) = [q["Properties"] for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    assert "VisibilityTimeout" not in source  # SQS's 30 s: the start is quick
    assert queue.workflow.state_machine.state_machine_type == STANDARD


@pytest.mark.parametrize(
    ("workflow_type", "start"),
    [(EXPRESS, "states:StartSyncExecution"), (STANDARD, "states:StartExecution")],
)
def test_the_pipe_role_may_read_its_queue_and_start_its_workflow_only(workflow_type, start):
    stack, queue = queue_stack(App(context=CONTEXT), workflow_type=workflow_type)
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
        start,
    }


@pytest.mark.parametrize("workflow_type", [EXPRESS, STANDARD])
def test_cdk_nag_and_cfn_lint_pass(tmp_path, workflow_type):
    app = App(context=CONTEXT, outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks(), ServerlessChecks())
    queue_stack(app, workflow_type=workflow_type)
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


# -- messages sent to the queue: the engine runs the pipe ------------------------------------

PAYMENT = {"amount": 25, "currency": "EUR"}
DECLINED = {"amount": -1, "currency": "EUR"}  # the charge function refuses it: InvalidPayment


def send(deployed, body) -> str:
    answer = deployed.engine.sqs.send_message(
        QueueUrl=deployed.queue("OrdersQueue"), MessageBody=json.dumps(body)
    )
    return answer["MessageId"]


def wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def queued(deployed) -> int:
    """Messages in the queue, visible or not."""
    attributes = deployed.engine.sqs.get_queue_attributes(
        QueueUrl=deployed.queue("OrdersQueue"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(map(int, attributes.values()))


@pytest.fixture(params=["Express", "Standard"])
def pumped(request, local_engine):
    """An IdempotentQueue stack of either type, with its pipe running on the engine."""
    workflow_type = EXPRESS if request.param == "Express" else STANDARD
    stack, _ = queue_stack(App(context=CONTEXT), workflow_type=workflow_type)
    return local_engine.deploy(stack)


def test_a_message_sent_to_the_queue_runs_the_work_once_and_leaves_the_queue(pumped):
    message_id = send(pumped, PAYMENT)
    (record,) = wait_for(lambda: [i for i in pumped.items() if i["executionstatus"] == "SUCCEEDED"])
    assert json.loads(record["executionresult"])["status"] == "CHARGED"
    assert wait_for(lambda: queued(pumped) == 0)
    (execution,) = pumped.executions()
    assert execution.wait().status == "SUCCEEDED"
    started = execution.history[0]["executionStartedEventDetails"]["input"]
    assert json.loads(started) == [{"messageId": message_id, "body": PAYMENT}]
    assert pumped.function("Charge").invocations == 1
    assert pumped.receive("OrdersDeadLetters", timeout=0.2) == []


def test_express_a_failed_message_is_delivered_again_then_dead_lettered_as_it_was(local_engine):
    stack, _ = queue_stack(App(context=CONTEXT))
    orders = local_engine.deploy(stack)
    send(orders, DECLINED)
    send(orders, PAYMENT)
    # SQS moves the original message after its fifth delivery: each ran the work, and failed.
    assert orders.receive("OrdersDeadLetters", timeout=30) == [DECLINED]
    assert wait_for(lambda: queued(orders) == 0)
    statuses = sorted(e.wait().status for e in orders.executions())
    assert statuses == ["FAILED"] * 5 + ["SUCCEEDED"]
    assert orders.function("Charge").invocations == 5 + 1
    failed, charged = sorted(orders.items(), key=lambda item: item["executionstatus"])
    assert (failed["executionstatus"], charged["executionstatus"]) == ("FAILED", "SUCCEEDED")
    assert json.loads(failed["executionresult"])["Error"] == "InvalidPayment"


def test_standard_a_failed_message_is_retried_then_sent_with_its_error(local_engine):
    stack, _ = queue_stack(App(context=CONTEXT), workflow_type=STANDARD)
    orders = local_engine.deploy(stack)
    message_id = send(orders, DECLINED)
    (dead,) = orders.receive("OrdersDeadLetters", timeout=30)
    assert dead["message"] == {"messageId": message_id, "body": DECLINED}
    assert dead["Error"] == "InvalidPayment"
    assert "amount must be a positive number" in dead["Cause"]
    (execution,) = orders.executions()  # the pipe started it once and deleted the message
    assert execution.wait().error == "InvalidPayment"
    assert execution.states_entered.count(S.RUN_WORK) == 5  # the first try and 4 retries
    assert execution.states_entered[-2:] == ["SendToDeadLetters", "Failed"]
    assert orders.function("Charge").invocations == 5
    assert queued(orders) == 0
    assert orders.items()[0]["executionstatus"] == "FAILED"


def test_standard_an_error_that_cannot_pass_is_dead_lettered_at_once(local_engine):
    stack, _ = queue_stack(
        App(context=CONTEXT), workflow_type=STANDARD, key_fields=["body.orderId"]
    )
    orders = local_engine.deploy(stack)
    send(orders, PAYMENT)  # no orderId: no key
    (dead,) = orders.receive("OrdersDeadLetters", timeout=30)
    assert dead["Error"] == "Idempotency.InvalidKey"
    assert "0.body.orderId" in dead["Cause"]
    (execution,) = orders.executions()
    assert execution.wait().states_entered.count(S.ACQUIRE_LOCK) == 1  # not retried
    assert orders.function("Charge").invocations == 0
    assert orders.items() == []
