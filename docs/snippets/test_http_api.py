"""README "HTTP API": IdempotentApi in a user's stack, served over real HTTP by the local engine."""

import json
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from idempotent_workflows import IdempotentApi
from idempotent_workflows.testing import LocalEngine, post_json


class ApiStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        function = lambda_.Function(
            self,
            "Charge",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.handler",
            code=lambda_.Code.from_asset("handlers/charge"),
        )
        charge = tasks.LambdaInvoke.jsonata(
            self,
            "ChargeCard",
            lambda_function=function,
            payload=sfn.TaskInput.from_object(
                {
                    "paymentId": "{% $states.input.idempotencyKey %}",
                    "amount": "{% $states.input.body.amount %}",
                }
            ),
            outputs="{% $states.result.Payload %}",
        )
        # snippet: api
        IdempotentApi(
            self,
            "Payments",
            work=charge,  # any JSONata chainable
            path="payments",
            success_status=201,
            error_statuses={"PaymentDeclined": 402},
        )
        # end snippet


def test_a_retried_request_is_answered_from_the_record(local_engine: LocalEngine) -> None:
    deployed = local_engine.deploy(ApiStack(App(), "Api"))
    # snippet: serve
    with deployed.serve_api() as api:  # http://127.0.0.1:<a free port>
        url, key = f"{api.url}/payments", {"Idempotency-Key": "k-1"}
        first = post_json(url, {"amount": 25}, key)  # signed, as the caller LOCALCALLER
        retry = post_json(url, {"amount": 25}, key)
        other = post_json(url, {"amount": 25}, key, access_key="BOB")  # another caller
    assert (first.status, first.body) == (retry.status, retry.body)  # the same bytes
    assert first.status == other.status == 201
    assert json.loads(first.body) == {"paymentId": "k-1", "charged": 25}
    # end snippet
    assert deployed.function("Charge").invocations == 2  # once per caller


def test_a_declined_payment_answers_its_status(local_engine: LocalEngine) -> None:
    deployed = local_engine.deploy(ApiStack(App(), "Api"))
    with deployed.serve_api() as api:
        answer = post_json(f"{api.url}/payments", {"amount": 20_000}, {"Idempotency-Key": "k-2"})
    refused: dict[str, Any] = json.loads(answer.body)
    assert answer.status == 402
    assert refused["error"] == "PaymentDeclined"
