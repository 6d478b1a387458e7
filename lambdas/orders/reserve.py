"""Reserves one line item of an order in stock: one iteration of the order flow's Map."""

import uuid

#: SKUs with this prefix are out of stock (the example's stand-in for an inventory service).
OUT_OF_STOCK_PREFIX = "SOLD-OUT"


class OutOfStock(Exception):
    """The item cannot be reserved."""


def handler(event, context):
    sku, quantity = event["Item"]["Sku"], event["Item"]["Quantity"]
    if sku.startswith(OUT_OF_STOCK_PREFIX):
        raise OutOfStock(f"{sku} is out of stock ({quantity} wanted) for order {event['OrderId']}")
    return {"Sku": sku, "Quantity": quantity, "ReservationId": str(uuid.uuid4())}
