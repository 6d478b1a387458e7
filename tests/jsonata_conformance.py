"""Measure evaluators against the reference on the jsonata-js conformance suite (not a test).

Usage, from the repository root after ``make setup``::

    .venv/bin/python -m pip download --no-deps --no-binary :all: jsonata-python==0.7.0 -d /tmp/s
    tar xzf /tmp/s/jsonata_python-0.7.0.tar.gz -C /tmp/s
    .venv/bin/python tests/jsonata_conformance.py /tmp/s/jsonata_python-0.7.0/jsonata/test/\
test-suite

The suite's files hold 2.1.0's expected values; the expected outcome here is the reference's
(npm jsonata 2.0.6 with Step Functions' functions). Cases with a time or depth limit are
skipped (they test runaway recursion). Prints agreement counts and time per evaluation for
jsonata-python as published, the engine's corrected jsonata-python, and the reference process
itself as the evaluator.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonata
from jsonata_reference import NO_INPUT, JSONataReference, Outcome

from idempotent_workflows.private.jsonata_expressions import idempotency_key
from idempotent_workflows.testing.jsonata import evaluator

Case = tuple[str, Any, dict[str, Any]]  # expression, input document, bindings


def load_cases(suite: Path) -> tuple[list[Case], int]:
    """The suite's cases without a time or depth limit, and how many were skipped."""
    datasets = {path.stem: json.loads(path.read_text()) for path in suite.glob("datasets/*.json")}
    cases, skipped = [], 0
    for path in sorted(suite.glob("groups/*/*.json")):
        loaded = json.loads(path.read_text())
        for case in loaded if isinstance(loaded, list) else [loaded]:
            if "timelimit" in case or "depth" in case:
                skipped += 1
                continue
            expression = case.get("expr") or (path.parent / case["expr-file"]).read_text()
            if "data" in case:
                document = case["data"]
            else:
                document = datasets[case["dataset"]] if case.get("dataset") else NO_INPUT
            cases.append((expression, document, case.get("bindings") or {}))
    return cases, skipped


def as_published(expression: str, document: Any, bindings: dict[str, Any]) -> Outcome:
    """jsonata-python 0.7.1 as published, given plain Python values, as the engine used it."""
    try:
        value = jsonata.Jsonata(expression).evaluate(
            None if document is NO_INPUT else document, bindings
        )
    except Exception as error:  # noqa: BLE001 - any failure is an error outcome
        return Outcome("error", message=str(error))
    # Published jsonata-python returns None for both null and nothing: either one agrees.
    return Outcome("undefined") if value is None else Outcome("value", value)


def corrected(expression: str, document: Any, bindings: dict[str, Any]) -> Outcome:
    """The engine's evaluator, with the input document bound as well."""
    try:
        value = evaluator._compile(expression).evaluate(
            None if document is NO_INPUT else evaluator.to_jsonata(document),
            {name: evaluator.to_jsonata(v) for name, v in bindings.items()},
        )
    except Exception as error:  # noqa: BLE001 - any failure is an error outcome
        return Outcome("error", message=str(error))
    return (
        Outcome("undefined") if value is None else Outcome("value", evaluator.from_jsonata(value))
    )


def agreement(
    evaluate: Callable[[str, Any, dict[str, Any]], Outcome],
    cases: list[Case],
    expected: list[Outcome],
    lenient_null: bool = False,
) -> int:
    agreed = 0
    for case, reference in zip(cases, expected, strict=True):
        outcome = evaluate(*case)
        null_as_nothing = lenient_null and outcome.kind == "undefined"
        agreed += outcome.agrees_with(reference) or (
            null_as_nothing and reference.kind == "value" and reference.value is None
        )
    return agreed


def milliseconds_per_evaluation(evaluate: Callable[[], Any], count: int = 300) -> float:
    evaluate()  # parse and cache once, as the engine does
    started = time.perf_counter()
    for _ in range(count):
        evaluate()
    return (time.perf_counter() - started) * 1000 / count


def main(suite: Path) -> None:
    cases, skipped = load_cases(suite)
    reference = JSONataReference()
    expected: list[Outcome] = []
    for start in range(0, len(cases), 200):
        chunk = cases[start : start + 200]
        expected += reference.evaluate_many(
            ((expression, bindings) for expression, _, bindings in chunk),
            (document for _, document, _ in chunk),
        )
    print(f"{len(cases)} cases ({skipped} with a time or depth limit skipped)")
    print(f"published jsonata-python: {agreement(as_published, cases, expected, True)} agree")
    print(f"corrected (the engine):   {agreement(corrected, cases, expected)} agree")

    key = idempotency_key("Bench#", "$states.input")
    order = {"states": {"input": {"TransactionId": "t-1", "Amount": 12.5, "Items": [1, None]}}}
    for name, expression in [("key", key), ("condition", "$states.input.Amount > 10")]:
        engine = milliseconds_per_evaluation(
            lambda e=expression: evaluator.evaluate_jsonata(e, order)
        )
        node = milliseconds_per_evaluation(lambda e=expression: reference.evaluate(e, order))
        print(f"{name}: engine {engine:.3f} ms, reference process {node:.3f} ms per evaluation")
    reference.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
