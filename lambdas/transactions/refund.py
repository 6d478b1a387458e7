"""Refunds a REFUND transaction and returns its receipt."""

from transaction import receipt


def handler(event, context):
    return receipt(event, "REFUNDED")
