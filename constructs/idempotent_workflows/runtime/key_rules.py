"""The key modes outside the state machine: what each selects from an input as key material.

Each ``KeyRule`` mirrors one ``IdempotencyKey`` mode of the constructs (``key.py``) and says
what that mode's JSONata (or Lambda function) selects: the whole input, fields by path, or
the value of the JMESPath expression the input carries. An input the workflow would refuse
raises ``InvalidKeyError`` with the message the workflow fails with.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .hashing import InvalidKeyError

#: Input field that carries the JMESPath expression in the input-carried key mode.
JMESPATH_FIELD: Final = "idempotencyKeyJmespath"
#: What the workflow says when a key field is missing, null or ``""``; the fields follow.
MISSING_FIELDS: Final = "Idempotency key field(s) missing, null or empty in the input: "
#: What the workflow says when the JMESPath mode selects nothing.
NOTHING_SELECTED: Final = (
    f"The input has no '{JMESPATH_FIELD}', or its expression selected nothing: "
    "give every execution an expression that selects a non-null value."
)

#: The Lambda handler that evaluates the expression in the state machine (shipped in the package).
_JMESPATH_HANDLER: Final = Path(__file__).parents[1] / "lambdas" / "jmespath_key" / "handler.py"
#: A path step that indexes an array.
_INDEX: Final = re.compile(r"[0-9]+")
#: A field that the input does not have.
_MISSING: Final = object()


class KeyRule(ABC):
    """How an execution input becomes key material (the value whose hash is the key)."""

    @abstractmethod
    def material(self, execution_input: Any) -> Any:
        """The key material of ``execution_input``, a JSON value (what ``json.loads`` returns).

        Raises
        ------
        InvalidKeyError
            If the workflow would refuse the input with ``Idempotency.InvalidKey``.
        """

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The rule as the workflow descriptor writes it (``docs/protocol.md``)."""

    @staticmethod
    def from_json(rule: Mapping[str, Any]) -> KeyRule:
        """The rule a workflow descriptor holds, the inverse of ``to_json``.

        Raises
        ------
        ValueError
            If ``rule`` is none of the three forms.
        """
        if rule == {"wholeInput": True}:
            return WholeInput()
        if rule.keys() == {"fields"} and _strings(rule["fields"]):
            return FieldSelection(tuple(rule["fields"]))
        if rule == {"jmespathField": JMESPATH_FIELD}:
            return InputJmespath()
        raise ValueError(
            f"Unknown key rule in a workflow descriptor: got {rule!r}, expected "
            '{"wholeInput": true}, {"fields": [...]} or '
            f'{{"jmespathField": "{JMESPATH_FIELD}"}}; a newer idempotent-workflows wrote it?'
        )


@dataclass(frozen=True)
class WholeInput(KeyRule):
    """The whole input is the key material (``IdempotencyKey.whole_input()``)."""

    def material(self, execution_input: Any) -> Any:
        """Return ``execution_input`` itself."""
        return execution_input

    def to_json(self) -> dict[str, Any]:
        """``{"wholeInput": true}``."""
        return {"wholeInput": True}


@dataclass(frozen=True)
class FieldSelection(KeyRule):
    """Fields chosen at synth time are the key material (``IdempotencyKey.from_fields()``).

    The material is an object of each path and its value. A path is dotted; each step reads
    an object member by name or, on an array, indexes it with a whole number. Arrays are never
    mapped over, so ``{"order": [{"id": 1}]}`` never shares a key with ``{"order": {"id": 1}}``:
    a named step that meets an array, or an index that meets anything but an array, refuses
    the input; a named step that meets a string, number, boolean or null, and any step after a
    missing one, finds the field missing.

    Parameters
    ----------
    paths
        The dotted paths, in the order the construct was given them.
    """

    paths: tuple[str, ...]

    def material(self, execution_input: Any) -> dict[str, Any]:
        """``{path: value}`` of every path.

        Raises
        ------
        InvalidKeyError
            If a path meets an array where it reads a name, or a non-array where it reads an
            index (naming the path), or a field is missing, null or ``""`` (naming each).
        """
        selection = select_fields(execution_input, self.paths)
        missing = [path for path in self.paths if selection.get(path) in (None, "")]
        if missing:
            raise InvalidKeyError(MISSING_FIELDS + ", ".join(missing))
        return selection

    def to_json(self) -> dict[str, Any]:
        """``{"fields": [...]}``."""
        return {"fields": list(self.paths)}


@dataclass(frozen=True)
class InputJmespath(KeyRule):
    """The input's JMESPath expression selects the material (``from_input_jmespath()``).

    The expression is the input's ``idempotencyKeyJmespath``, evaluated by the very handler
    that the state machine's Lambda function runs (``lambdas/jmespath_key``), with the
    ``jmespath`` package that botocore depends on.
    """

    def material(self, execution_input: Any) -> Any:
        """The value the input's expression selects.

        Raises
        ------
        InvalidKeyError
            If the input has no expression, the expression is not valid JMESPath, or it
            selects nothing (null).
        """
        handler = _jmespath_handler()
        try:
            value = handler(execution_input, None)
        except Exception as error:  # the state machine turns any failure of it into InvalidKey
            raise InvalidKeyError(str(error)) from error
        if value is None:
            raise InvalidKeyError(NOTHING_SELECTED)
        return value

    def to_json(self) -> dict[str, Any]:
        """``{"jmespathField": "idempotencyKeyJmespath"}``."""
        return {"jmespathField": JMESPATH_FIELD}


def select_fields(execution_input: Any, paths: Sequence[str]) -> dict[str, Any]:
    """``{path: value}`` of the paths present in ``execution_input`` (absent ones left out).

    The selection of ``FieldSelection`` before its missing-field check, and of the payload
    fields whose fingerprint the protocol stores. Each step reads as ``FieldSelection`` says.

    Raises
    ------
    InvalidKeyError
        If a path meets an array where it reads a name, or a non-array where it reads an
        index: the first such path.
    """
    found = {path: _field(execution_input, path) for path in paths}
    return {path: value for path, value in found.items() if value is not _MISSING}


def named_step_on_array(path: str, step: str) -> str:
    """What the workflow says when the named ``step`` of ``path`` meets an array."""
    return f"{path}: the input has an array where the field {step} is read"


def index_without_array(path: str, step: str) -> str:
    """What the workflow says when the index ``step`` of ``path`` meets no array."""
    return f"{path}: step {step} indexes an array, but the input has none there"


def _field(value: Any, path: str) -> Any:
    for step in path.split("."):
        if value is _MISSING:
            break
        if _INDEX.fullmatch(step):
            if not isinstance(value, list | tuple):
                raise InvalidKeyError(index_without_array(path, step))
            index = int(step)
            value = value[index] if index < len(value) else _MISSING
        elif isinstance(value, list | tuple):
            raise InvalidKeyError(named_step_on_array(path, step))
        else:
            value = value.get(step, _MISSING) if isinstance(value, Mapping) else _MISSING
    return value


@functools.cache
def _jmespath_handler() -> Callable[[Any, Any], Any]:
    """The JMESPath key function's handler, loaded from the package (imports ``jmespath``)."""
    spec = importlib.util.spec_from_file_location(f"{__name__}._jmespath_key", _JMESPATH_HANDLER)
    if spec is None or spec.loader is None:
        raise ImportError(f"The package lacks the JMESPath key handler: {_JMESPATH_HANDLER}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"The JMESPath key mode evaluates with the jmespath package, which is missing "
            f"({error}): install boto3, which brings it, or jmespath itself."
        ) from error
    handler: Callable[[Any, Any], Any] = module.handler
    return handler


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
