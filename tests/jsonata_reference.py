"""The reference JSONata (npm jsonata 2.0.6, called directly) in one Node process per session.

``JSONataReference`` starts ``jsonata_reference.js`` once and sends it batches of evaluations as
JSON lines; with ``step_functions=True`` it registers the functions Step Functions adds, taken
from the engine's own script. ``engine_outcome`` evaluates with the engine's evaluator, the path
executions take (Python client, JSON lines, ``step_functions.js``). ``Outcome`` is what an
evaluation ended in, for both, so that the two can be compared and shown side by side.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idempotent_workflows.testing.jsonata.evaluator import SCRIPT, SHARED, JSONataEvaluationError

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).with_name("jsonata_reference.js")


@dataclass(frozen=True)
class Outcome:
    """What one evaluation ended in: a value, nothing (JSONata's undefined) or an error."""

    kind: str  # "value", "undefined" or "error"
    value: Any = None
    message: str = ""

    def agrees_with(self, other: Outcome) -> bool:
        """Same kind and, for values, the same JSON value (1 equals 1.0; true is not 1)."""
        if self.kind != other.kind:
            return False
        return self.kind != "value" or same_json(self.value, other.value)

    def __str__(self) -> str:
        if self.kind == "value":
            return json.dumps(self.value, ensure_ascii=False)
        return self.kind if self.kind == "undefined" else f"error: {self.message}"


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value, booleans apart from numbers, arrays in order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_json, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


_NOTHING = object()
#: An evaluation without an input document (JavaScript's undefined).
NO_INPUT = object()


def engine_outcome(
    expression: str, bindings: Mapping[str, Any], document: Any = NO_INPUT
) -> Outcome:
    """Evaluate with the local engine's evaluator, as a field holding only ``expression``.

    ``document`` is what ``$`` refers to (the conformance suite's input); Step Functions binds
    none.
    """
    given = {} if document is NO_INPUT else {"document": document}
    try:
        (value,) = SHARED.fields(
            bindings, [("", "{%" + expression + "%}")], nothing=_NOTHING, **given
        )
    except JSONataEvaluationError as error:
        return Outcome("error", message=str(error))
    return Outcome("undefined") if value is _NOTHING else Outcome("value", value)


class JSONataReference:
    """One long-lived Node process that evaluates with npm jsonata 2.0.6 directly.

    Parameters
    ----------
    step_functions
        Register the functions Step Functions adds (from the engine's ``step_functions.js``);
        without them, bare jsonata 2.0.6.
    node
        The Node executable; default ``node_modules/.bin/node`` (the pinned Node 22).
    """

    def __init__(self, *, step_functions: bool, node: str | None = None) -> None:
        node = node or str(ROOT / "node_modules" / ".bin" / "node")
        if not Path(node).exists() and not shutil.which(node):
            raise FileNotFoundError(f"No Node at {node}: run `make setup` first")
        if not (ROOT / "node_modules" / "jsonata").is_dir():
            raise FileNotFoundError("npm jsonata is not installed: run `make setup` first")
        self._process = subprocess.Popen(
            [node, str(REFERENCE), *([str(SCRIPT)] if step_functions else [])],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            encoding="utf-8",
            bufsize=1,
        )

    def evaluate_many(
        self, requests: Iterable[tuple[str, Mapping[str, Any]]], inputs: Iterable[Any] = ()
    ) -> list[Outcome]:
        """Evaluate each (expression, bindings) in one round trip; outcomes in the same order.

        ``inputs``, if given, holds the document ``$`` refers to in each evaluation (``NO_INPUT``
        for none); Step Functions binds no input.
        """
        batch = [{"expression": e, "bindings": b} for e, b in requests]
        for request, document in zip(batch, inputs, strict=False):
            if document is not NO_INPUT:
                request["input"] = document
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps(batch) + "\n")
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"The reference process ended (exit {self._process.poll()})")
        return [_outcome(reply) for reply in json.loads(line)]

    def evaluate(self, expression: str, bindings: Mapping[str, Any]) -> Outcome:
        """Evaluate one expression."""
        return self.evaluate_many([(expression, bindings)])[0]

    def close(self) -> None:
        """End the Node process."""
        assert self._process.stdin
        self._process.stdin.close()
        self._process.wait(timeout=10)


def _outcome(reply: dict[str, Any]) -> Outcome:
    if "error" in reply:
        error = reply["error"]
        return Outcome("error", message=f"{error['code']}: {error['message']}")
    if reply.get("undefined"):
        return Outcome("undefined")
    return Outcome("value", reply["value"])


def disagreement(expression: str, bindings: Any, engine: Outcome, reference: Outcome) -> str:
    """A failure message that shows both outcomes."""
    shown = json.dumps(bindings, ensure_ascii=False, default=str)
    return (
        f"\nexpression: {expression[:300]}\nbindings:   {shown[:600]}"
        f"\nengine:     {str(engine)[:600]}\nreference:  {str(reference)[:600]}"
    )
