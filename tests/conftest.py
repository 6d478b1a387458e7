"""Shared fixtures: the example app built exactly as app.py builds it, with cdk.json context."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from hypothesis import HealthCheck, settings
from jsonata_reference import JSONataReference

from idempotent_workflows import IdempotentApi
from idempotent_workflows.examples import add_example_stacks
from idempotent_workflows.testing import state_machine_definitions

# Hypothesis profiles. "ci" (the default, and `make test`) always draws the same examples, so
# a run never fails by chance; every counterexample found is pinned as an @example. "fuzz"
# (`make fuzz`) explores: many more examples, a fresh seed each run, failures kept in .hypothesis/.
_SLOW_EXAMPLES = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, database=None, max_examples=40, **_SLOW_EXAMPLES)
settings.register_profile("fuzz", max_examples=2000, **_SLOW_EXAMPLES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
#: The stacks app.py synthesizes.
#: The example stacks built on ``IdempotentWorkflow``: one protocol around the whole work.
WORKFLOW_STACKS = [
    "IdempotentWorkflowStandard",
    "IdempotentWorkflowExpress",
    "TransactionStandard",
    "TransactionExpress",
    "PaymentsApi",
]
#: Every stack of app.py.
EXAMPLE_STACKS = [*WORKFLOW_STACKS, "OrderFlow"]


def jsonata_machine(stack: Stack, id: str, start: sfn.IChainable, **props: Any) -> sfn.StateMachine:
    """A JSONata state machine of ``start`` in ``stack``; ``props`` go to ``StateMachine``."""
    return sfn.StateMachine(
        stack,
        id,
        definition_body=sfn.DefinitionBody.from_chainable(start),
        query_language=sfn.QueryLanguage.JSONATA,
        **props,
    )


def new_app() -> App:
    """An App with the same context (feature flags included) as `cdk synth`."""
    return App(context=CONTEXT)


@pytest.fixture(scope="session")
def example_stacks() -> dict[str, Stack]:
    """The example stacks of app.py, by stack name."""
    app = new_app()
    return {stack.stack_name: stack for stack in add_example_stacks(app)}


def echo_api_stack(**props: Any) -> Stack:
    """A stack whose API answers ``{"blob": <n copies of c>}`` for a body ``{"n": .., "c": ..}``:
    an answer as large as a test needs. ``props`` go to ``IdempotentApi``."""
    stack = Stack(new_app(), "EchoApi")
    IdempotentApi(
        stack,
        "Api",
        work=sfn.Pass.jsonata(
            stack,
            "Echo",
            outputs={"blob": "{% $pad('', $states.input.body.n, $states.input.body.c) %}"},
        ),
        removal_policy=RemovalPolicy.DESTROY,
        **props,
    )
    return stack


def template_json(stack: Stack) -> dict[str, Any]:
    return Template.from_stack(stack).to_json()


def only_definition(stack: Stack) -> dict[str, Any]:
    (definition,) = state_machine_definitions(template_json(stack)).values()
    return definition


def state_events(execution: Any, state: str, kind: str) -> list[dict[str, Any]]:
    """The details of the ``kind`` events (``TaskFailed``, ...) recorded while in ``state``."""
    key = kind[0].lower() + kind[1:] + "EventDetails"
    entered, found = None, []
    for event in execution.history:
        if event["type"].endswith("StateEntered"):
            entered = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == kind and entered == state:
            found.append(event.get(key, {}))
    return found


def only_record(deployed: Any) -> dict[str, Any]:
    """The one idempotency record of a deployed stack's table."""
    (record,) = deployed.items()
    return record


def as_list(value: Any) -> list[Any]:
    """An IAM ``Action`` or ``Resource`` (one value or a list) as a list."""
    return value if isinstance(value, list) else [value]


def set_record(engine, deployed, *, held_by: str | None = None, **attributes) -> None:
    """Overwrite attributes of a record, as a crashed or stale holder leaves it.

    The single record of the table, or the one that the execution ``held_by`` holds or held.
    """
    if held_by is None:
        record = only_record(deployed)
    else:
        (record,) = [item for item in deployed.items() if item.get("execution") == held_by]
    names = {f"#{name}": name for name in attributes}
    values = {
        f":{name}": {"N": str(value)} if isinstance(value, int) else {"S": value}
        for name, value in attributes.items()
    }
    engine.dynamodb.update_item(
        TableName=deployed.table(),
        Key={"id": {"S": record["id"]}},
        UpdateExpression="SET " + ", ".join(f"#{n} = :{n}" for n in attributes),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


@pytest.fixture(scope="session")
def jsonata_reference():
    """npm jsonata 2.0.6 called directly, with the functions Step Functions adds; one process."""
    reference = JSONataReference(step_functions=True)
    yield reference
    reference.close()


#: Test files that take longest (fresh venvs, subprocess sessions, the quick benchmark): with
#: ``--dist loadfile`` files are handed to workers in collection order, so these start first
#: and the rest of the suite runs beside them instead of after them.
SLOW_FILES = ("test_wheel.py", "test_snippets.py", "test_bench.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in SLOW_FILES)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The versions each installed-wheel run resolved (``resolved`` in tests/test_wheel.py)."""
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) == "call":
                for name, value in report.user_properties:
                    if name == "resolved":
                        terminalreporter.write_line(f"{report.nodeid}: {value}")
