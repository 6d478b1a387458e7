"""Charges a payment: the body of a POST /payments request, run once per Idempotency-Key."""

import uuid

#: Payments above this amount are declined (the example's stand-in for a card network).
LIMIT = 10_000


class InvalidPayment(Exception):
    """The body lacks a field the payment needs, or a field has the wrong type."""


class PaymentDeclined(Exception):
    """The payment was refused."""


def handler(event, context):
    body = event.get("body") if isinstance(event, dict) else None
    if not isinstance(body, dict):
        raise InvalidPayment("The request body must be a JSON object")
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0:
        raise InvalidPayment(f"amount must be a positive number, got {amount!r}")
    currency = body.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise InvalidPayment(f"currency must be a three-letter code, got {currency!r}")
    if amount > LIMIT:
        raise PaymentDeclined(f"amount {amount} is over the limit of {LIMIT}")
    return {
        "paymentId": str(uuid.uuid4()),
        "status": "CHARGED",
        "amount": amount,
        "currency": currency,
    }
