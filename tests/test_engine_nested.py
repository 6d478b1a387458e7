"""Nested executions (``states:startExecution.sync`` and ``.sync:2``) and Map concurrency.

Each behaviour runs on a small stack built here: a parent state machine that starts a child
deployed in the same engine, or a Map state over a Lambda function.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from conftest import jsonata_machine, new_app

from idempotent_workflows import handler_function
from idempotent_workflows.testing import LocalEngine

#: The fields of the child's description in a ``.sync`` task's result, in the order Step
#: Functions writes them (LocalStack's recordings against AWS; AWS adds the redrive fields
#: since 2023, which the engine does not give).
DESCRIPTION_FIELDS = [
    "ExecutionArn",
    "Input",
    "InputDetails",
    "Name",
    "Output",
    "OutputDetails",
    "StartDate",
    "StateMachineArn",
    "Status",
    "StopDate",
]
CHILD_ERROR = "Child.Broke"
CHILD_CAUSE = "the child could not go on"
STANDARD = sfn.StateMachineType.STANDARD
EXPRESS = sfn.StateMachineType.EXPRESS


def child_machine(
    stack: Stack, *, fails: bool = False, kind: sfn.StateMachineType = STANDARD
) -> sfn.StateMachine:
    """Waits 0.2 s (200 s scaled), then answers ``{"got": <its input>}`` or fails."""
    wait = sfn.Wait.jsonata(stack, "Wait", time=sfn.WaitTime.duration(Duration.seconds(200)))
    end: sfn.IChainable = (
        sfn.Fail.jsonata(stack, "Broke", error=CHILD_ERROR, cause=CHILD_CAUSE)
        if fails
        else sfn.Pass.jsonata(stack, "Answer", outputs={"got": "{% $states.input %}"})
    )
    return jsonata_machine(stack, "Child", wait.next(end), state_machine_type=kind)


def start_sync2(stack: Stack, child: sfn.StateMachine) -> sfn.TaskStateBase:
    """How CDK writes a ``.sync:2`` start (``RUN_JOB``), associated with the parent."""
    return tasks.StepFunctionsStartExecution.jsonata(
        stack,
        "StartChild",
        state_machine=child,
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        associate_with_parent=True,
        input=sfn.TaskInput.from_object({"order": "{% $states.input.order %}"}),
    )


def start_sync(stack: Stack, child: sfn.StateMachine) -> sfn.CustomState:
    """A ``.sync`` start, which CDK does not write itself."""
    return sfn.CustomState(
        stack,
        "StartChild",
        state_json={
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync",
            "Arguments": {
                "StateMachineArn": child.state_machine_arn,
                "Input": {"order": "{% $states.input.order %}"},
            },
        },
    )


def parent_stack(
    name: str, *, sync2: bool = True, fails: bool = False, kind: sfn.StateMachineType = STANDARD
) -> Stack:
    stack = Stack(new_app(), name)
    child = child_machine(stack, fails=fails, kind=kind)
    start = start_sync2(stack, child) if sync2 else start_sync(stack, child)
    jsonata_machine(stack, "Parent", start)
    return stack


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def task_events(execution: Any, kind: str) -> list[dict[str, Any]]:
    details = f"task{kind}EventDetails"
    return [event[details] for event in execution.history if event["type"] == f"Task{kind}"]


@pytest.mark.parametrize("kind", [STANDARD, EXPRESS], ids=["standard", "express"])
def test_sync2_waits_for_the_child_and_answers_its_description_with_json(local_engine, kind):
    deployed = local_engine.deploy(parent_stack(f"Sync2{kind.value.title()}", kind=kind))
    parent = deployed.run({"order": "o-1"}, prefix="Parent")
    assert parent.status == "SUCCEEDED", parent.cause
    (child,) = deployed.executions("Child")
    result = parent.output
    assert list(result) == DESCRIPTION_FIELDS
    assert result["ExecutionArn"] == child.arn
    assert result["StateMachineArn"] == deployed.state_machine("Child")
    described = local_engine.sfn.describe_execution(executionArn=child.arn)
    assert result["Name"] == described["name"]  # an Express ARN ends with an id after it
    assert result["Status"] == child.status == "SUCCEEDED"
    assert result["Output"] == child.output  # a JSON value, not text
    assert result["Input"] == {
        "order": "o-1",
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": parent.arn,
    }
    assert result["InputDetails"] == result["OutputDetails"] == {"Included": True}
    for field in ("StartDate", "StopDate"):  # epoch milliseconds
        expected = described[field[0].lower() + field[1:]].timestamp() * 1000
        assert result[field] == pytest.approx(expected, abs=1)
    (submitted,) = task_events(parent, "Submitted")
    assert submitted["resource"] == "startExecution.sync:2"
    assert json.loads(submitted["output"])["ExecutionArn"] == child.arn


def test_sync_answers_input_and_output_as_json_text(local_engine):
    deployed = local_engine.deploy(parent_stack("Sync1", sync2=False))
    parent = deployed.run({"order": "o-2"}, prefix="Parent")
    assert parent.status == "SUCCEEDED", parent.cause
    (child,) = deployed.executions("Child")
    result = parent.output
    assert list(result) == DESCRIPTION_FIELDS
    assert isinstance(result["Output"], str) and isinstance(result["Input"], str)
    assert json.loads(result["Output"]) == child.output == {"got": {"order": "o-2"}}
    assert result["Output"] == compact(child.output)  # as Step Functions writes JSON
    assert json.loads(result["Input"]) == {"order": "o-2"}
    (submitted,) = task_events(parent, "Submitted")
    assert submitted["resource"] == "startExecution.sync"


def test_a_request_response_start_answers_the_new_executions_arn(local_engine):
    stack = Stack(new_app(), "StartOnly")
    start = tasks.StepFunctionsStartExecution.jsonata(
        stack,
        "StartChild",
        state_machine=child_machine(stack),
        # Without input, CDK writes "Input": "$", a JSONPath leftover that JSONata takes as text.
        input=sfn.TaskInput.from_object({"order": "{% $states.input.order %}"}),
    )
    jsonata_machine(stack, "Parent", start)
    deployed = local_engine.deploy(stack)
    parent = deployed.run({"order": "o-8"}, prefix="Parent")
    (child,) = deployed.executions("Child")
    assert list(parent.output) == ["ExecutionArn", "StartDate"]
    assert parent.output["ExecutionArn"] == child.arn
    started = local_engine.sfn.describe_execution(executionArn=child.arn)["startDate"]
    assert parent.output["StartDate"] == pytest.approx(started.timestamp() * 1000, abs=1)
    assert child.wait().status == "SUCCEEDED"


@pytest.mark.parametrize(
    ("sync2", "kind"),
    [(True, STANDARD), (True, EXPRESS), (False, STANDARD)],
    ids=["sync2-standard", "sync2-express", "sync-standard"],
)
def test_a_failed_child_fails_the_task_with_its_description_as_cause(local_engine, sync2, kind):
    name = f"Failing{'Two' if sync2 else 'One'}{kind.value.title()}"
    deployed = local_engine.deploy(parent_stack(name, sync2=sync2, fails=True, kind=kind))
    parent = deployed.run({"order": "o-3"}, prefix="Parent")
    (child,) = deployed.executions("Child")
    assert child.status == "FAILED"
    assert parent.status == "FAILED"
    assert parent.error == "States.TaskFailed"
    (failed,) = task_events(parent, "Failed")
    assert failed["error"] == "States.TaskFailed"
    assert failed["cause"] == parent.cause
    cause = json.loads(parent.cause)
    assert parent.cause == compact(cause)
    assert list(cause) == sorted(
        {*DESCRIPTION_FIELDS, "Cause", "Error"} - {"Output", "OutputDetails"}
    )
    assert (cause["Error"], cause["Cause"]) == (CHILD_ERROR, CHILD_CAUSE)
    assert (cause["ExecutionArn"], cause["Status"]) == (child.arn, "FAILED")
    child_input = cause["Input"] if sync2 else json.loads(cause["Input"])
    assert child_input["order"] == "o-3"


def test_a_catch_in_the_parent_reads_the_childs_error_name(local_engine):
    stack = Stack(new_app(), "CaughtChild")
    start = start_sync2(stack, child_machine(stack, fails=True))
    handled = sfn.Pass.jsonata(
        stack,
        "Handled",
        outputs={
            "error": "{% $states.input.Error %}",
            "childError": "{% $parse($states.input.Cause).Error %}",
        },
    )
    start.add_catch(handled, errors=["States.TaskFailed"])
    jsonata_machine(stack, "Parent", start)
    parent = local_engine.deploy(stack).run({"order": "o-4"}, prefix="Parent")
    assert parent.output == {"error": "States.TaskFailed", "childError": CHILD_ERROR}


def test_children_started_without_a_name_get_their_own(local_engine):
    """Step Functions names a nameless execution with a UUID; moto named them all ``None``."""
    stack = Stack(new_app(), "ManyChildren")
    child = child_machine(stack)
    each = sfn.Map.jsonata(
        stack, "Each", items=sfn.ProvideItems.jsonata("{% $states.input.orders %}")
    )
    each.item_processor(
        tasks.StepFunctionsStartExecution.jsonata(
            stack,
            "StartChild",
            state_machine=child,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            input=sfn.TaskInput.from_object({"order": "{% $states.input %}"}),
            outputs="{% $states.result.Output.got.order %}",
        )
    )
    jsonata_machine(stack, "Parent", each)
    deployed = local_engine.deploy(stack)
    parent = deployed.run({"orders": ["a", "b", "c"]}, prefix="Parent")
    assert parent.output == ["a", "b", "c"]
    children = deployed.executions("Child")
    assert len({child.arn for child in children}) == 3
    for child in children:
        name = child.arn.rsplit(":", 1)[-1]
        assert len(name) == 36 and name.count("-") == 4


def running_child(deployed: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (children := deployed.executions("Child")):
        assert time.monotonic() < deadline, "the parent started no child"
        time.sleep(0.01)
    (child,) = children
    return child


def test_stopping_the_parent_stops_the_child(local_engine):
    deployed = local_engine.deploy(parent_stack("StoppedParent"))
    local_engine.wait_scale = 1.0  # the child waits 200 s
    parent = deployed.start({"order": "o-5"}, prefix="Parent")
    child = running_child(deployed)
    local_engine.sfn.stop_execution(executionArn=parent.arn)
    assert parent.wait(timeout=10).status == "ABORTED"
    assert child.wait(timeout=10).status == "ABORTED"


def test_a_child_stopped_on_its_own_fails_the_parents_task(local_engine):
    deployed = local_engine.deploy(parent_stack("StoppedChild"))
    local_engine.wait_scale = 1.0  # the child waits 200 s
    parent = deployed.start({"order": "o-9"}, prefix="Parent")
    child = running_child(deployed)
    local_engine.sfn.stop_execution(executionArn=child.arn)
    assert parent.wait(timeout=10).error == "States.TaskFailed"
    assert json.loads(parent.cause)["Status"] == child.status == "ABORTED"


def test_a_parent_task_past_its_timeout_stops_the_child(local_engine):
    stack = Stack(new_app(), "TimedOutParent")
    start = tasks.StepFunctionsStartExecution.jsonata(
        stack,
        "StartChild",
        state_machine=child_machine(stack),
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        input=sfn.TaskInput.from_object({}),
        task_timeout=sfn.Timeout.duration(Duration.seconds(5)),
    )
    jsonata_machine(stack, "Parent", start)
    deployed = local_engine.deploy(stack)
    # The child waits 200 s, the task 5 s: time enough to start the child on a loaded machine
    # (with 1 s the timeout could fire before StartExecution, and no child existed).
    local_engine.wait_scale = 1.0
    parent = deployed.run({}, prefix="Parent")
    assert parent.error == "States.Timeout"
    (child,) = deployed.executions("Child")
    assert child.wait(timeout=10).status == "ABORTED"


def test_closing_the_engine_ends_a_parent_waiting_for_its_child():
    with LocalEngine(wait_scale=1.0) as engine:
        deployed = engine.deploy(parent_stack("ClosedParent"))
        deployed.start({"order": "o-6"}, prefix="Parent")
        running_child(deployed)
        closing = time.monotonic()
    assert time.monotonic() - closing < 10  # the child waits 200 s


#: A mocked ``.sync:2`` result.
DONE = {"Status": "SUCCEEDED", "Output": {"got": "mocked"}}


def test_mocked_responses_apply_to_the_parents_task(local_engine):
    """A thrown error is retried, then the child runs for real; a returned result replaces it."""
    stack = Stack(new_app(), "MockedStart")
    start = start_sync2(stack, child_machine(stack))
    limited = "StepFunctions.ExecutionLimitExceeded"
    start.add_retry(errors=[limited], interval=Duration.seconds(1))
    jsonata_machine(stack, "Parent", start)
    deployed = local_engine.deploy(stack)
    (parent_id,) = (id for id in deployed.state_machines if id.startswith("Parent"))
    local_engine.load_mock_config(
        {
            "StateMachines": {
                parent_id: {
                    "TestCases": {
                        "Limited": {"StartChild": "Limited"},
                        "Done": {"StartChild": "Done"},
                    }
                }
            },
            "MockedResponses": {
                "Limited": {"0": {"Throw": {"Error": limited, "Cause": "busy"}}},
                "Done": {"0": {"Return": DONE}},
            },
        }
    )
    parent = deployed.run({"order": "o-7"}, prefix="Parent", test_case="Limited")
    assert parent.status == "SUCCEEDED", parent.cause
    assert [event["error"] for event in task_events(parent, "Failed")] == [limited]
    (child,) = deployed.executions("Child")
    assert parent.output["Output"] == child.output
    assert child.output["got"]["order"] == "o-7"

    parent = deployed.run({"order": "o-8"}, prefix="Parent", test_case="Done")
    assert parent.output == DONE
    assert len(deployed.executions("Child")) == 1  # a mocked result starts no child


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
