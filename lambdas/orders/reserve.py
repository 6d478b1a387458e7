"""Reserves one line item of an order in stock, once per order and line: one iteration of the
order flow's Map.

The reservation is one atomic conditional write keyed ``<OrderId>#<line>``: the first one
stores its id, a repeated one (the order run again after a failure) reads that id back, so
an order line is never reserved twice.
"""

import functools
import os
import uuid

import boto3

#: SKUs with this prefix are out of stock (the example's stand-in for an inventory service).
OUT_OF_STOCK_PREFIX = "SOLD-OUT"


class OutOfStock(Exception):
    """The item cannot be reserved."""


class ReservationConflict(Exception):
    """The order's line was reserved before with another SKU or quantity."""


@functools.cache
def _dynamodb():
    return boto3.client("dynamodb")


def handler(event, context):
    order_id, line = event["OrderId"], event["Line"]
    sku, quantity = event["Item"]["Sku"], event["Item"]["Quantity"]
    if sku.startswith(OUT_OF_STOCK_PREFIX):
        raise OutOfStock(f"{sku} is out of stock ({quantity} wanted) for order {order_id}")
    stored = _dynamodb().update_item(
        TableName=os.environ["RESERVATIONS_TABLE"],
        Key={"id": {"S": f"{order_id}#{line}"}},
        UpdateExpression=(
            "SET ReservationId = if_not_exists(ReservationId, :id),"
            " Sku = if_not_exists(Sku, :sku), Quantity = if_not_exists(Quantity, :quantity)"
        ),
        ExpressionAttributeValues={
            ":id": {"S": str(uuid.uuid4())},
            ":sku": {"S": sku},
            ":quantity": {"N": str(quantity)},
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]
    if stored["Sku"]["S"] != sku or float(stored["Quantity"]["N"]) != float(quantity):
        raise ReservationConflict(
            f"Line {line} of order {order_id} was reserved as {stored['Quantity']['N']} x "
            f"{stored['Sku']['S']}, not {quantity} x {sku}: send the order under a new OrderId."
        )
    return {"Sku": sku, "Quantity": quantity, "ReservationId": stored["ReservationId"]["S"]}
