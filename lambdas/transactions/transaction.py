"""What the purchase and refund handlers share: input validation and the receipt."""

import uuid


class InvalidTransaction(Exception):
    """The transaction lacks a field it needs, or a field has the wrong type."""


def receipt(event, status):
    """Validate a transaction event and return its receipt with the given status."""
    if not isinstance(event, dict):
        raise InvalidTransaction(f"A transaction must be a JSON object, got {type(event).__name__}")
    transaction_id = event.get("TransactionId")
    if not isinstance(transaction_id, str) or not transaction_id:
        raise InvalidTransaction("TransactionId must be a non-empty string")
    amount = event.get("Amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0:
        raise InvalidTransaction(f"Amount must be a positive number, got {amount!r}")
    return {
        "TransactionId": transaction_id,
        "TransactionType": event.get("TransactionType"),
        "Amount": amount,
        "Status": status,
        "ReceiptId": str(uuid.uuid4()),
    }
