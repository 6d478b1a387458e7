"""Validates an order and prices it: the first step of the order flow."""

#: Most line items one order may hold.
MAX_ITEMS = 100


class InvalidOrder(Exception):
    """The order lacks a field or a field has the wrong type; retrying cannot help."""


def _line_item(item, index):
    if not isinstance(item, dict):
        raise InvalidOrder(f"Items[{index}] must be an object, got {item!r}")
    sku, quantity, price = item.get("Sku"), item.get("Quantity"), item.get("Price")
    if not isinstance(sku, str) or not sku:
        raise InvalidOrder(f"Items[{index}].Sku must be a non-empty string, got {sku!r}")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidOrder(f"Items[{index}].Quantity must be a positive integer, got {quantity!r}")
    if isinstance(price, bool) or not isinstance(price, (int, float)) or price <= 0:
        raise InvalidOrder(f"Items[{index}].Price must be a positive number, got {price!r}")
    return {"Sku": sku, "Quantity": quantity, "Price": price}


def handler(event, context):
    if not isinstance(event, dict):
        raise InvalidOrder("The order must be a JSON object")
    order_id, currency = event.get("OrderId"), event.get("Currency")
    if not isinstance(order_id, str) or not order_id:
        raise InvalidOrder(f"OrderId must be a non-empty string, got {order_id!r}")
    if not isinstance(currency, str) or len(currency) != 3:
        raise InvalidOrder(f"Currency must be a three-letter code, got {currency!r}")
    items = event.get("Items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidOrder(f"Items must be a list of 1 to {MAX_ITEMS} line items")
    lines = [_line_item(item, index) for index, item in enumerate(items)]
    total = round(sum(line["Quantity"] * line["Price"] for line in lines), 2)
    return {"OrderId": order_id, "Currency": currency, "Items": lines, "Total": total}
