"""StartExecution's execution names on the engine, as Step Functions treats them (issue 21).

Standard: one execution per name; the same name and input while it runs answer it, a closed
one or another input is ``ExecutionAlreadyExists``, also under racing starts. Express: a
new execution at every start. Names outside Step Functions' alphabet or length are refused.
"""

from __future__ import annotations

import json
import sys
import threading

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_stepfunctions as sfn
from botocore.exceptions import ClientError
from conftest import jsonata_machine, new_app

from idempotent_workflows.testing.deploy.naming import ACCOUNT
from idempotent_workflows.testing.moto_compat import step_functions_backend


def named_stack(name: str, workflow_type: sfn.StateMachineType) -> Stack:
    """Waits 100 s, then outputs its own execution name."""
    stack = Stack(new_app(), name)
    wait = sfn.Wait.jsonata(stack, "Wait", time=sfn.WaitTime.duration(Duration.seconds(100)))
    name_it = sfn.Pass.jsonata(stack, "Name", outputs="{% $states.context.Execution.Name %}")
    jsonata_machine(stack, "Machine", wait.next(name_it), state_machine_type=workflow_type)
    return stack


def start(engine, machine: str, name: str, document) -> str:
    answer = engine.sfn.start_execution(
        stateMachineArn=machine, name=name, input=json.dumps(document)
    )
    arn: str = answer["executionArn"]
    return arn


def refusal(engine, machine: str, name: str, document) -> str:
    with pytest.raises(ClientError) as refused:
        start(engine, machine, name, document)
    code: str = refused.value.response["Error"]["Code"]
    return code


def test_a_standard_name_is_taken_once(local_engine):
    deployed = local_engine.deploy(named_stack("StandardNames", sfn.StateMachineType.STANDARD))
    machine = deployed.state_machine()
    local_engine.wait_scale = 0.01  # 1 s of running
    first = start(local_engine, machine, "order-1", {"a": 1})
    assert start(local_engine, machine, "order-1", {"a": 1}) == first  # joined, not started
    assert refusal(local_engine, machine, "order-1", {"a": 2}) == "ExecutionAlreadyExists"
    assert deployed.executions()[0].wait().output == "order-1"
    assert refusal(local_engine, machine, "order-1", {"a": 1}) == "ExecutionAlreadyExists"
    assert [execution.arn for execution in deployed.executions()] == [first]


def test_an_express_name_starts_a_new_execution_every_time(local_engine):
    deployed = local_engine.deploy(named_stack("ExpressNames", sfn.StateMachineType.EXPRESS))
    machine = deployed.state_machine()
    arns = [start(local_engine, machine, "order-1", {"a": n % 2}) for n in range(3)]
    assert len(set(arns)) == 3
    assert all(
        arn.startswith(f"{machine}:order-1:".replace(":stateMachine:", ":execution:"))
        for arn in arns
    )
    ended = [execution.wait() for execution in deployed.executions()]
    assert [execution.output for execution in ended] == ["order-1"] * 3  # the name is kept


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("a b", "InvalidName"),
        ("a#b", "InvalidName"),
        ("a:b", "InvalidName"),
        ("a/b", "InvalidName"),
        ("tab\tx", "InvalidName"),
        ("\x85x", "InvalidName"),
        ("x\ufffe", "InvalidName"),
        ("a" * 81, "ValidationException"),
    ],
)
def test_names_outside_the_alphabet_or_length_are_refused(local_engine, name, code):
    deployed = local_engine.deploy(named_stack("BadNames", sfn.StateMachineType.STANDARD))
    assert refusal(local_engine, deployed.state_machine(), name, {}) == code
    assert deployed.executions() == []


def test_names_step_functions_accepts_are_accepted(local_engine):
    deployed = local_engine.deploy(named_stack("GoodNames", sfn.StateMachineType.STANDARD))
    names = ["a" * 80, "k0f-1_x", "é-ok", "\U0001f600"]
    for name in names:
        start(local_engine, deployed.state_machine(), name, {})
    ended = [execution.wait() for execution in deployed.executions()]
    assert sorted(execution.output for execution in ended) == sorted(names)


def test_racing_starts_of_one_name_make_one_execution(local_engine):
    """Below the HTTP layer, where moto's check-then-add let 2 to 4 of 20 starts through."""
    deployed = local_engine.deploy(named_stack("RacingNames", sfn.StateMachineType.STANDARD))
    machine = deployed.state_machine()
    backend = step_functions_backend(region=local_engine.region, account=ACCOUNT)
    local_engine.wait_scale = 0.01
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for trial in range(10):
            barrier = threading.Barrier(20)

            def racer(name: str = f"race-{trial}", barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                backend.start_execution(machine, name, '{"a": 1}')

            racers = [threading.Thread(target=racer) for _ in range(20)]
            for thread in racers:
                thread.start()
            for thread in racers:
                thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    names = [execution.arn.rsplit(":", 1)[-1] for execution in deployed.executions()]
    assert sorted(names) == sorted(f"race-{trial}" for trial in range(10))
