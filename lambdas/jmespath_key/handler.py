"""Evaluates the input's `idempotencyKeyJmespath` expression against the input.

Returns the selected value (null when the field is absent or selects nothing); the state
machine hashes it into the idempotency key and fails with Idempotency.InvalidKey on null.
"""

import jmespath

FIELD = "idempotencyKeyJmespath"


class InvalidKeyExpression(Exception):
    """The input's idempotencyKeyJmespath is not a valid JMESPath expression."""


def handler(event, context):
    expression = event.get(FIELD) if isinstance(event, dict) else None
    if not isinstance(expression, str) or not expression.strip():
        return None
    try:
        return jmespath.search(expression, event)
    except jmespath.exceptions.JMESPathError as error:
        raise InvalidKeyExpression(
            f"{FIELD} {expression!r} is not valid JMESPath: {error}"
        ) from None
