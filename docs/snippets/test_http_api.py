"""README "HTTP API": IdempotentApi in a user's stack, served over real HTTP by the local engine."""

import json
import urllib.error
import urllib.request
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
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


# snippet: client
def pay(url: str, payment: dict[str, Any], key: str, credentials: Credentials, region: str) -> str:
    """What a checkout page says after sending a payment, or sending it again (a retry)."""
    body = json.dumps(payment).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    signed = AWSRequest("POST", url, data=body, headers=headers)
    SigV4Auth(credentials, "execute-api", region).add_auth(signed)
    request = urllib.request.Request(url, body, dict(signed.headers), method="POST")
    try:
        with urllib.request.urlopen(request) as answer:
            receipt = json.load(answer)
            replayed = answer.headers["Idempotent-Replayed"] == "true"
    except urllib.error.HTTPError as error:
        return f"Payment failed: {json.load(error)['error']}"
    if replayed:  # answered from the record: sent before, and not charged again
        return f"Already paid, receipt {receipt['paymentId']}"
    return f"Payment sent, receipt {receipt['paymentId']}"
    # end snippet


def test_a_client_tells_a_replay_from_a_first_answer(local_engine: LocalEngine) -> None:
    deployed = local_engine.deploy(ApiStack(App(), "Api"))
    credentials = Credentials("AKIDEXAMPLE", "example")  # the local API reads who signed
    with deployed.serve_api() as api:
        url = f"{api.url}/payments"
        assert pay(url, {"amount": 25}, "k-3", credentials, "us-east-1") == (
            "Payment sent, receipt k-3"
        )
        assert pay(url, {"amount": 25}, "k-3", credentials, "us-east-1") == (
            "Already paid, receipt k-3"
        )
        declined = pay(url, {"amount": 20_000}, "k-4", credentials, "us-east-1")
    assert declined == "Payment failed: PaymentDeclined"
    assert deployed.function("Charge").invocations == 2
