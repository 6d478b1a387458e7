"""The local engine's completions of moto, checked on a state machine that uses each of them."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from conftest import jsonata_machine, new_app

from idempotent_workflows import handler_function
from idempotent_workflows.testing import LocalEngine


def test_jsonata_functions_and_context_match_step_functions(local_engine):
    stack = Stack(new_app(), "EngineChecks")
    probe = sfn.Pass.jsonata(
        stack,
        "Probe",
        outputs={
            "start": "{% $states.context.Execution.StartTime %}",
            "uuid": "{% $uuid() %}",
            "parsed": "{% $parse($states.input.text) %}",
            "hash": "{% $hash($states.input.text, 'SHA-256') %}",
            "quoted": "{% $quoted %}",
        },
    )
    setup = sfn.Pass.jsonata(stack, "Assign", assign={"quoted": "{% $states.input.text %}"})
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(setup.next(probe)),
        query_language=sfn.QueryLanguage.JSONATA,
    )
    text = '{"a": [1, "q\\"uote"]}'
    output = local_engine.deploy(stack).run({"text": text}).output
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", output["start"])
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", output["uuid"]
    )
    assert output["parsed"] == {"a": [1, 'q"uote']}
    assert output["hash"] == hashlib.sha256(text.encode()).hexdigest()
    assert output["quoted"] == text  # a string variable with quotes survives


def waiting_stack(name: str) -> Stack:
    """A state machine that waits 100 seconds."""
    stack = Stack(new_app(), name)
    wait = sfn.Wait.jsonata(stack, "Wait", time=sfn.WaitTime.duration(Duration.seconds(100)))
    jsonata_machine(stack, "Machine", wait)
    return stack


def test_wait_states_follow_the_scale(local_engine):
    deployed = local_engine.deploy(waiting_stack("WaitCheck"))
    started = time.monotonic()
    assert deployed.run({}).status == "SUCCEEDED"
    assert time.monotonic() - started < 5  # 100 s scaled by 0.001


def test_waiting_ends_with_the_execution_or_the_callers_timeout(local_engine):
    deployed = local_engine.deploy(waiting_stack("StopCheck"))
    local_engine.wait_scale = 1.0
    execution = deployed.start({})
    with pytest.raises(TimeoutError):
        execution.wait(timeout=0.1)
    local_engine.sfn.stop_execution(executionArn=execution.arn, error="Stopped", cause="test")
    assert execution.wait().status == "ABORTED"


def test_a_task_past_its_timeout_still_times_out(local_engine):
    """Tasks without TimeoutSeconds run in the calling thread; tasks with one keep the timer."""
    stack = Stack(new_app(), "TaskTimeout")
    function = handler_function(stack, "Slow", folder="random_failure", description="Slow work")
    task = tasks.LambdaInvoke(
        stack,
        "Invoke",
        lambda_function=function,
        task_timeout=sfn.Timeout.duration(Duration.seconds(1)),
    )
    sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(task))
    deployed = local_engine.deploy(stack)
    deployed.function("Slow").environment["FAILURE_RATE"] = "0"
    deployed.function("Slow").latency = 3.0
    execution = deployed.run({})
    assert execution.status == "FAILED"
    assert execution.error == "States.Timeout"


def test_a_closed_engines_clients_fail_before_any_request():
    """Without moto, they would call AWS itself (with fake keys, but over the network)."""
    with LocalEngine() as engine:
        clients = [engine.sfn, engine.dynamodb, engine.sqs, engine.sns]
        assert engine.dynamodb.list_tables()["TableNames"] == []

    def sending(**kwargs):
        raise AssertionError(f"a request to {kwargs['request'].url} was about to leave")

    for client in clients:  # should the guard let a call through, it stops here
        client.meta.events.register("before-send.*.*", sending)
    calls = [
        engine.sfn.list_state_machines,
        engine.dynamodb.list_tables,
        engine.sqs.list_queues,
        engine.sns.list_topics,
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match=r"this LocalEngine is closed, and its clients"):
            call()
