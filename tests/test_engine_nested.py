"""Nested executions (``states:startExecution.sync`` and ``.sync:2``) and Map concurrency.

Each behaviour runs on a small stack built here: a parent state machine that starts a child
deployed in the same engine, or a Map state over a Lambda function.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from conftest import new_app

from idempotent_workflows.functions import handler_function


def jsonata_machine(stack: Stack, id: str, start: sfn.IChainable, **props: Any) -> sfn.StateMachine:
    return sfn.StateMachine(
        stack,
        id,
        definition_body=sfn.DefinitionBody.from_chainable(start),
        query_language=sfn.QueryLanguage.JSONATA,
        **props,
    )


# -- Map concurrency ---------------------------------------------------------------------------

ITEMS = 20
LATENCY = 0.1  # seconds per invocation, so that invocations overlap


def map_stack() -> Stack:
    """Two state machines mapping one function over the input's items: at most 5 at once, and
    without a limit."""
    stack = Stack(new_app(), "MapConcurrency")
    function = handler_function(
        stack,
        "Work",
        folder="random_failure",
        description="Succeeds",
        environment={"FAILURE_RATE": "0"},
    )
    for id, limit in (("Limited", 5), ("Unlimited", 0)):
        each = sfn.Map.jsonata(
            stack,
            f"{id}Each",
            items=sfn.ProvideItems.jsonata("{% $states.input.items %}"),
            max_concurrency=limit,
        )
        invoke = tasks.LambdaInvoke.jsonata(stack, f"{id}Invoke", lambda_function=function)
        each.item_processor(invoke.add_retry(errors=["RandomFailure"]))
        jsonata_machine(stack, id, each)
    return stack


def test_map_runs_at_most_max_concurrency_items_at_once(local_engine):
    deployed = local_engine.deploy(map_stack())
    work = deployed.function("Work")
    work.latency = LATENCY
    items = {"items": list(range(ITEMS))}

    assert deployed.run(items, prefix="Limited").status == "SUCCEEDED"
    assert work.invocations == ITEMS
    assert 1 < work.peak_concurrency <= 5

    work.reset_counters()
    assert (work.invocations, work.peak_concurrency) == (0, 0)
    assert deployed.run(items, prefix="Unlimited").status == "SUCCEEDED"
    assert work.invocations == ITEMS
    assert work.peak_concurrency > 5
