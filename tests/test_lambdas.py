"""The Lambda handlers, called directly with the events the state machines send them."""

from __future__ import annotations

import pytest
from conftest import ROOT

from idempotent_workflows.testing.deploy.functions import import_isolated


def load(folder: str, module: str):
    """A handler module imported as Lambda imports it, from its own folder."""
    return import_isolated(ROOT / "lambdas" / folder, module)


purchase = load("transactions", "purchase")
refund = load("transactions", "refund")
random_failure = load("random_failure", "handler")
jmespath_key = load("jmespath_key", "handler")


@pytest.mark.parametrize(
    "module,status", [(purchase, "CHARGED"), (refund, "REFUNDED")], ids=["purchase", "refund"]
)
def test_transaction_receipt(module, status):
    event = {"TransactionType": "PURCHASE", "TransactionId": "t-1", "Amount": 12.5}
    receipt = module.handler(event, None)
    assert receipt["Status"] == status
    assert receipt["TransactionId"] == "t-1" and receipt["Amount"] == 12.5
    assert receipt["ReceiptId"] != module.handler(event, None)["ReceiptId"]


@pytest.mark.parametrize(
    "event,message",
    [
        ({"Amount": 1}, "TransactionId must be a non-empty string"),
        ({"TransactionId": "t", "Amount": 0}, "Amount must be a positive number"),
        ({"TransactionId": "t", "Amount": True}, "Amount must be a positive number"),
        ({"TransactionId": "t"}, "Amount must be a positive number, got None"),
        ([1], "must be a JSON object"),
    ],
)
def test_transaction_rejects_bad_events(event, message):
    with pytest.raises(Exception, match=message) as raised:
        purchase.handler(event, None)
    assert type(raised.value).__name__ == "InvalidTransaction"


def test_random_failure_follows_its_rate(monkeypatch):
    monkeypatch.setenv("FAILURE_RATE", "0")
    assert random_failure.handler({}, None) == "All good"
    monkeypatch.setenv("FAILURE_RATE", "1")
    with pytest.raises(random_failure.RandomFailure):
        random_failure.handler({}, None)
    monkeypatch.setenv("FAILURE_RATE", "2")
    with pytest.raises(ValueError, match="from 0 to 1, got '2'"):
        random_failure.handler({}, None)


def test_jmespath_key_selects_from_the_input():
    event = {
        "idempotencyKeyJmespath": "[order.id, customer]",
        "order": {"id": 7},
        "customer": "c",
        "noise": 1,
    }
    assert jmespath_key.handler(event, None) == [7, "c"]
    assert jmespath_key.handler({"idempotencyKeyJmespath": "missing"}, None) is None
    assert jmespath_key.handler({"order": 1}, None) is None
    with pytest.raises(jmespath_key.InvalidKeyExpression, match="not valid JMESPath"):
        jmespath_key.handler({"idempotencyKeyJmespath": "[unclosed"}, None)


validate_order = load("orders", "validate")
reserve_item = load("orders", "reserve")
ORDER = {"OrderId": "o-1", "Currency": "EUR", "Items": [{"Sku": "A", "Quantity": 3, "Price": 0.1}]}


def test_validate_order_prices_a_valid_order_and_drops_unknown_fields():
    order = {**ORDER, "Note": "gift", "Items": [{**ORDER["Items"][0], "Colour": "red"}]}
    assert validate_order.handler(order, None) == {**ORDER, "Total": 0.3}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"OrderId": ""}, "OrderId must be a non-empty string"),
        ({"Currency": "EURO"}, "Currency must be a three-letter code"),
        ({"Items": []}, "Items must be a list of 1 to 100"),
        ({"Items": [{"Sku": "A", "Quantity": 1, "Price": 1}] * 101}, "Items must be a list"),
        ({"Items": ["A"]}, r"Items\[0\] must be an object"),
        ({"Items": [{"Sku": "A", "Quantity": 0, "Price": 1}]}, r"Items\[0\].Quantity"),
        ({"Items": [{"Sku": "A", "Quantity": True, "Price": 1}]}, r"Items\[0\].Quantity"),
        ({"Items": [{"Sku": "A", "Quantity": 1, "Price": -1}]}, r"Items\[0\].Price"),
        ({"Items": [{"Sku": "A", "Quantity": 1, "Price": 0}]}, r"Items\[0\].Price must be a pos"),
        ({"Items": [{"Quantity": 1, "Price": 1}]}, r"Items\[0\].Sku"),
    ],
)
def test_validate_order_refuses_what_retrying_cannot_fix(change, message):
    with pytest.raises(Exception, match=message) as raised:
        validate_order.handler({**ORDER, **change}, None)
    assert type(raised.value).__name__ == "InvalidOrder"


def test_reserve_item_reserves_each_order_line_once_or_reports_a_sold_out_sku(
    local_engine, monkeypatch
):
    """One atomic write per order line, in a table of the local AWS: a repeat reads it back."""
    local_engine.dynamodb.create_table(
        TableName="Reservations",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("RESERVATIONS_TABLE", "Reservations")
    line = {"OrderId": "o-1", "Line": 0, "Item": ORDER["Items"][0]}
    reservation = reserve_item.handler(line, None)
    assert (reservation["Sku"], reservation["Quantity"]) == ("A", 3)
    assert reserve_item.handler(line, None) == reservation  # the same line: the same one
    other = reserve_item.handler({**line, "Line": 1}, None)
    assert other["ReservationId"] != reservation["ReservationId"]
    assert sorted(item["id"] for item in local_engine.items("Reservations")) == ["o-1#0", "o-1#1"]
    with pytest.raises(reserve_item.ReservationConflict, match="reserved as 3 x A, not 2 x A"):
        reserve_item.handler({**line, "Item": {"Sku": "A", "Quantity": 2}}, None)
    sold_out = {"OrderId": "o-1", "Line": 2, "Item": {"Sku": "SOLD-OUT-2", "Quantity": 1}}
    with pytest.raises(reserve_item.OutOfStock, match="SOLD-OUT-2 is out of stock"):
        reserve_item.handler(sold_out, None)
