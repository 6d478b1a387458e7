"""The engine runs a deployed EventBridge Pipe (SQS to Step Functions) as Pipes does."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_stepfunctions as sfn
from conftest import CONTEXT

from idempotent_workflows import IdempotentQueue
from idempotent_workflows.testing.run.pipes import render_input_template, sqs_record

BODY = '{"orderId": "o-1", "note": "a \\"b\\""}'


@pytest.mark.parametrize(
    ("template", "body", "expected"),
    [
        # A body that is JSON is JSON; other text (NaN is not JSON) is a string.
        ('{"id": <$.messageId>, "body": <$.body>}', BODY, {"id": "m-1", "body": json.loads(BODY)}),
        ('{"id": <$.messageId>, "body": <$.body>}', "NaN", {"id": "m-1", "body": "NaN"}),
        ("<$.body.orderId>", BODY, "o-1"),
        ('{"text": "order <$.body.orderId>: <$.body.note>"}', BODY, {"text": 'order o-1: a "b"'}),
        ('{"body": "<$.body>"}', BODY, {"body": BODY}),
        ('{"missing": <$.body.nothing>}', BODY, {"missing": None}),
    ],
)
def test_an_input_template_is_rendered_as_pipes_renders_it(template, body, expected):
    assert render_input_template(template, {"messageId": "m-1", "body": body}) == expected


def test_an_sqs_record_is_what_pipes_hands_over_without_a_template():
    message = {"MessageId": "m", "ReceiptHandle": "r", "Body": "x", "Attributes": {"A": "1"}}
    record = sqs_record(message, "arn:aws:sqs:eu-west-1:123456789012:q")
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "eu-west-1"
    assert (record["messageId"], record["body"], record["attributes"]) == ("m", "x", {"A": "1"})


def test_a_start_that_fire_and_forget_cannot_make_leaves_the_message_to_sqs(local_engine):
    stack = Stack(App(context=CONTEXT), "Orders")
    IdempotentQueue(
        stack,
        "Orders",
        work=sfn.Pass.jsonata(stack, "Work"),
        workflow_type=sfn.StateMachineType.STANDARD,
        removal_policy=RemovalPolicy.DESTROY,
    )
    orders = local_engine.deploy(stack)
    # SQS takes 256 KiB; with its message id around it, the execution input is over that.
    body = json.dumps("x" * (256 * 1024 - 2))
    local_engine.sqs.send_message(QueueUrl=orders.queue("OrdersQueue"), MessageBody=body)
    (dead,) = orders.receive("OrdersDeadLetters", timeout=30)
    assert dead == "x" * (256 * 1024 - 2)  # the message itself, after five refused starts
    assert orders.executions() == []
