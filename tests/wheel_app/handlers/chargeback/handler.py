"""Reverses a disputed transaction (the user's own handler, deployed from its own folder)."""


def handler(event, context):
    return {"TransactionId": event["TransactionId"], "Status": "CHARGED_BACK"}
