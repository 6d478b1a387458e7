"""Which part of an execution's input identifies a duplicate, and how each mode is built."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .lambda_handlers import handler_function
from .private.checks import field_paths
from .private.jsonata_expressions import field_selection, jsonata, literal
from .runtime.key_rules import (
    JMESPATH_FIELD,
    MISSING_FIELDS,
    NOTHING_SELECTED,
    FieldSelection,
    InputJmespath,
    KeyRule,
    WholeInput,
)
from .states import ProtocolState

#: Workflow variable that holds the key material computed by the JMESPath function.
_KEY_MATERIAL_VARIABLE: Final = "idemKeyMaterial"


@dataclass(frozen=True)
class KeyBinding:
    """What a key mode adds to the protocol it is bound to.

    Attributes
    ----------
    material
        JSONata for the value to hash; it raises an error when nothing is selected, which the
        protocol turns into ``Idempotency.InvalidKey``.
    pre_state
        A task to run before the lock is taken (its failure is an invalid key), or None.
    """

    material: str
    pre_state: sfn.TaskStateBase | None = None


class IdempotencyKey(ABC):
    """How an execution's input becomes its idempotency key.

    Create one with a factory: :meth:`whole_input` (the default of ``IdempotentWorkflow``),
    :meth:`from_fields` (a selection fixed at synth time) or :meth:`from_input_jmespath`
    (an expression carried in the input, the only mode that invokes a Lambda function).
    Whatever the mode, the selected value is serialized as canonical JSON, so inputs that differ
    only in object key order have the same key.
    """

    @property
    @abstractmethod
    def rule(self) -> KeyRule:
        """The same mode outside the state machine (``idempotent_workflows.runtime``).

        The protocol writes it into its workflow descriptor, so that runtime code computes the
        keys this mode computes in the state machine.
        """

    @classmethod
    def whole_input(cls) -> IdempotencyKey:
        """Key on the whole execution input."""
        return _WholeInput()

    @classmethod
    def from_fields(cls, *paths: str) -> IdempotencyKey:
        """Key on the values of the given input fields, chosen at synth time.

        Parameters
        ----------
        *paths
            Dotted paths into the input, for example ``"TransactionId"``, ``"order.id"`` or
            ``"items.0.sku"``: each step is an object member's name, or a whole number that
            indexes an array. Every field must be present, not null and not the empty string
            in every input: an execution whose input lacks one, or has an array where a named
            step reads a member (``{"order": [{"id": 1}]}`` for ``"order.id"``), fails with
            ``Idempotency.InvalidKey`` before any work runs.

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
        return _Fields(field_paths("IdempotencyKey.from_fields()", "paths", paths))

    @classmethod
    def from_input_jmespath(cls) -> IdempotencyKey:
        """Key on a JMESPath expression carried in the input as ``idempotencyKeyJmespath``.

        For parity with the classic demo. Costs one Lambda invocation and one extra state per
        execution; prefer :meth:`from_fields` when the selection is known at synth time.
        """
        return _InputJmespath()

    @abstractmethod
    def bind(self, scope: Construct, input_expression: str) -> KeyBinding:
        """Build what this mode needs in ``scope`` and return the key material.

        Parameters
        ----------
        scope
            The protocol fragment; a mode that needs a state or a function creates it here.
        input_expression
            JSONata expression for the execution input.
        """


class _WholeInput(IdempotencyKey):
    rule = WholeInput()

    def bind(self, scope: Construct, input_expression: str) -> KeyBinding:
        return KeyBinding(material=input_expression)

    def __repr__(self) -> str:
        return "IdempotencyKey.whole_input()"


class _Fields(IdempotencyKey):
    def __init__(self, paths: Sequence[str]) -> None:
        self.fields = tuple(paths)

    @property
    def rule(self) -> KeyRule:
        return FieldSelection(self.fields)

    def bind(self, scope: Construct, input_expression: str) -> KeyBinding:
        selection = field_selection(input_expression, self.fields)
        names = ", ".join(literal(path) for path in self.fields)
        return KeyBinding(
            material=(
                f"($selection := {selection};"
                f" $missing := $filter([{names}], function($f) {{"
                " ($v := $lookup($selection, $f); $not($exists($v)) or $v = null or $v = '') });"
                f" $count($missing) > 0 ? $error('{MISSING_FIELDS}' & $join($missing, ', '))"
                " : $selection)"
            )
        )

    def __repr__(self) -> str:
        return f"IdempotencyKey.from_fields({', '.join(map(repr, self.fields))})"


class _InputJmespath(IdempotencyKey):
    rule = InputJmespath()

    def bind(self, scope: Construct, input_expression: str) -> KeyBinding:
        function = handler_function(
            scope,
            "KeyFunction",
            folder="jmespath_key",
            description=f"Evaluates the input's {JMESPATH_FIELD} expression",
        )
        compute_key = tasks.LambdaInvoke.jsonata(
            scope,
            ProtocolState.COMPUTE_KEY,
            lambda_function=function,
            assign={_KEY_MATERIAL_VARIABLE: jsonata("$states.result.Payload")},
            outputs=jsonata("$states.input"),
        )
        material = f"${_KEY_MATERIAL_VARIABLE}"
        return KeyBinding(
            material=(
                f"($not($exists({material})) or {material} = null"
                f" ? $error({literal(NOTHING_SELECTED)}) : {material})"
            ),
            pre_state=compute_key,
        )

    def __repr__(self) -> str:
        return "IdempotencyKey.from_input_jmespath()"
