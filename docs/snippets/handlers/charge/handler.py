"""The quick start's charge handler: what a user's own Lambda function might be."""

#: Payments above this amount are declined.
LIMIT = 10_000


class PaymentDeclined(Exception):
    """The card network refused the payment."""


def handler(event, context):
    if event["amount"] > LIMIT:
        raise PaymentDeclined(f"{event['amount']} is over the limit of {LIMIT}")
    return {"paymentId": event["paymentId"], "charged": event["amount"]}
