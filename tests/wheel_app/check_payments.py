"""The user's offline tests: the `local_engine` fixture comes from the wheel's pytest plugin."""

import json

from aws_cdk import App
from payments_app import build

from idempotent_workflows import ProtocolState
from idempotent_workflows.examples import PaymentsApiStack
from idempotent_workflows.examples.warehouse import WarehouseSimulator
from idempotent_workflows.runtime import WorkflowDescription
from idempotent_workflows.testing import post_json


def test_the_users_workflows_run_their_work_once(local_engine):
    stacks = build(App())

    demo = local_engine.deploy(stacks["demo"])
    event = {"idempotencyKeyJmespath": "order", "order": {"id": 1}, "at": "10:00"}
    first = demo.run(event)
    duplicate = demo.run({**event, "at": "10:05"})
    assert first.status == "SUCCEEDED"
    assert duplicate.output == first.output
    assert duplicate.states_entered[-1] == ProtocolState.RETURN_STORED_RESULT
    assert demo.function("RandomFailure").invocations == 1
    # The installed runtime computes the record's id (JMESPath mode: the shipped handler).
    (described,) = WorkflowDescription.describe(demo.state_machine(), local_engine.sfn)
    assert [item["id"] for item in demo.items()] == [described.record_id(event)]

    transactions = local_engine.deploy(stacks["transactions"])
    chargeback = {"TransactionType": "CHARGEBACK", "TransactionId": "c-1", "Amount": 3}
    first, duplicate = transactions.run(chargeback), transactions.run(chargeback)
    assert first.output == {"TransactionId": "c-1", "Status": "CHARGED_BACK"}
    assert duplicate.output == first.output
    assert transactions.function("ChargebackFunction").invocations == 1

    emails = local_engine.deploy(stacks["emails"])
    message = {"messageId": "m-1", "to": "a@example.com"}
    first, duplicate = emails.run(message), emails.run(message)
    assert first.output == duplicate.output == {"sentTo": "a@example.com"}
    assert first.states_entered.count("SendEmail") == 1
    assert "SendEmail" not in duplicate.states_entered

    orders = local_engine.deploy(stacks["orders"])
    order = {
        "OrderId": "o-1",
        "Currency": "EUR",
        "Items": [{"Sku": "A", "Quantity": 1, "Price": 4}],
    }
    warehouse = WarehouseSimulator(
        local_engine.sqs, local_engine.sfn, orders.queue("WarehouseQueue")
    )
    with warehouse:
        first, duplicate = orders.run(order), orders.run(order)
    assert first.status == duplicate.status == "SUCCEEDED"
    assert duplicate.output["Payment"] == first.output["Payment"]
    assert orders.function("Charge").invocations == 1


def post(url, body, key):
    """POST JSON, signed as an IAM-authorized API requires: (status, parsed body, replayed)."""
    answer = post_json(url, body, {"Idempotency-Key": key})
    return answer.status, json.loads(answer.body), answer.headers["Idempotent-Replayed"]


def test_the_payments_api_answers_a_retry_from_the_record(local_engine):
    """Real HTTP to the example API: mapping templates (VTL), StartSyncExecution, the record,
    the replay flag."""
    api = local_engine.deploy(PaymentsApiStack(App(), "Api"))
    with api.serve_api() as served:
        payment = {"amount": 25, "currency": "EUR"}
        first, retry = (post(f"{served.url}/payments", payment, "k-1") for _ in range(2))
    assert first[:2] == retry[:2]
    assert first[0] == 201 and first[1]["status"] == "CHARGED"
    assert (first[2], retry[2]) == ("false", "true")  # the retry: answered from the record
    assert api.function("ChargeFunction").invocations == 1
