"""Which part of an execution's input identifies a duplicate."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from .expressions import literal

#: Input field that carries the JMESPath expression in the input-carried key mode.
JMESPATH_FIELD: Final = "idempotencyKeyJmespath"

#: Workflow variable that holds the key material computed by the JMESPath function.
KEY_MATERIAL_VARIABLE: Final = "idemKeyMaterial"

_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


class IdempotencyKey:
    """How an execution's input becomes its idempotency key.

    Create one with a factory: :meth:`whole_input` (the default of ``IdempotentWorkflow``),
    :meth:`from_fields` (a selection fixed at synth time) or :meth:`from_input_jmespath`
    (an expression carried in the input, the only mode that invokes a Lambda function).
    Whatever the mode, the selected value is serialized as canonical JSON, so inputs that differ
    only in object key order have the same key.
    """

    def __init__(self, *, fields: Sequence[str] = (), jmespath: bool = False) -> None:
        self._fields = tuple(fields)
        self._jmespath = jmespath

    @classmethod
    def whole_input(cls) -> IdempotencyKey:
        """Key on the whole execution input."""
        return cls()

    @classmethod
    def from_fields(cls, *paths: str) -> IdempotencyKey:
        """Key on the values of the given input fields, chosen at synth time.

        Parameters
        ----------
        *paths
            Dotted paths into the input, for example ``"TransactionId"`` or ``"order.id"``.
            Every field must be present (and not null) in every input: an execution whose
            input lacks one fails with ``Idempotency.InvalidKey`` before any work runs.

        Raises
        ------
        ValueError
            If no path is given, a path is not a dotted field path, or a path repeats.
        """
        if not paths:
            raise ValueError(
                "IdempotencyKey.from_fields() got no field: pass at least one input field, "
                "for example IdempotencyKey.from_fields('TransactionId'), or use "
                "IdempotencyKey.whole_input() to key on the whole input."
            )
        for path in paths:
            if not isinstance(path, str) or not _FIELD_PATH.match(path):
                raise ValueError(
                    f"IdempotencyKey.from_fields() got {path!r}: expected a dotted field path "
                    "such as 'TransactionId' or 'order.id' (letters, digits, '_' and '-')."
                )
        if len(set(paths)) != len(paths):
            raise ValueError(f"IdempotencyKey.from_fields() got a repeated field: {paths!r}.")
        return cls(fields=paths)

    @classmethod
    def from_input_jmespath(cls) -> IdempotencyKey:
        """Key on a JMESPath expression carried in the input as ``idempotencyKeyJmespath``.

        For parity with the classic demo. Costs one Lambda invocation and one extra state per
        execution; prefer :meth:`from_fields` when the selection is known at synth time.
        """
        return cls(jmespath=True)

    @property
    def uses_lambda(self) -> bool:
        """Whether computing this key needs the JMESPath Lambda function."""
        return self._jmespath

    @property
    def fields(self) -> tuple[str, ...]:
        """The selected input fields (empty unless created by :meth:`from_fields`)."""
        return self._fields

    def material(self, input_expression: str) -> str:
        """JSONata for the value to hash; it raises an error when nothing is selected.

        Parameters
        ----------
        input_expression
            JSONata expression for the execution input.
        """
        if self._jmespath:
            material = f"${KEY_MATERIAL_VARIABLE}"
            return (
                f"($not($exists({material})) or {material} = null ? $error("
                + literal(
                    f"The input has no '{JMESPATH_FIELD}', or its expression selected nothing: "
                    "give every execution an expression that selects a non-null value."
                )
                + f") : {material})"
            )
        if not self._fields:
            return input_expression
        selection = ", ".join(
            f"{literal(path)}: {input_expression}." + ".".join(f"`{p}`" for p in path.split("."))
            for path in self._fields
        )
        names = ", ".join(literal(path) for path in self._fields)
        return (
            f"($selection := {{{selection}}};"
            f" $missing := $filter([{names}], function($f) {{"
            " ($v := $lookup($selection, $f); $not($exists($v)) or $v = null) });"
            " $count($missing) > 0 ? $error('Idempotency key field(s) missing or null in the "
            "input: ' & $join($missing, ', ')) : $selection)"
        )

    def __repr__(self) -> str:
        if self._jmespath:
            return "IdempotencyKey.from_input_jmespath()"
        if self._fields:
            return f"IdempotencyKey.from_fields({', '.join(map(repr, self._fields))})"
        return "IdempotencyKey.whole_input()"
