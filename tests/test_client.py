"""``WorkflowClient`` on the engine: duplicates answered by execution name (issue 21).

The example workflows run on the local engine, whose StartExecution takes names as Step
Functions does (``tests/test_engine_names.py``). What each call cost is read from the engine:
the executions that exist (a duplicate answered by name starts none, so enters no state), the
work's invocations, and the records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from idempotent_workflows.runtime import (
    InvalidKeyError,
    PayloadMismatchError,
    WorkflowClient,
    WorkflowFailed,
    WorkflowResult,
)
from idempotent_workflows.testing.stepfunctions.execution_names import name_problem

#: What the demo's last step answers when it does not fail.
ALL_GOOD = "All good"
PURCHASE = {"TransactionType": "PURCHASE", "TransactionId": "t-1", "Amount": 5}


@pytest.fixture
def demo(example_stacks, local_engine):
    deployed = local_engine.deploy(example_stacks["IdempotentWorkflowStandard"])
    deployed.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    return deployed


def client_of(engine, deployed, **settings: Any) -> WorkflowClient:
    return WorkflowClient(
        deployed.state_machine(), client=engine.sfn, poll_seconds=0.02, **settings
    )


def names(deployed) -> list[str]:
    return sorted(execution.arn.rsplit(":", 1)[-1] for execution in deployed.executions())


def at_once(count: int, call: Callable[[], WorkflowResult]) -> list[WorkflowResult]:
    barrier = threading.Barrier(count)

    def together() -> WorkflowResult:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: together(), range(count)))


def test_a_duplicate_enters_no_state_on_standard(demo, local_engine):
    client = client_of(local_engine, demo)
    first = client.run({"orderId": "o-1"})
    again = client.run({"orderId": "o-1"})
    assert (first.replayed, again.replayed) == (False, True)
    assert (first.path, first.attempt) == ("name", 1)
    assert again.output == first.output
    assert first.output["randomFailureFunc"] == ALL_GOOD
    assert again.execution_arn == first.execution_arn
    assert len(demo.executions()) == 1  # the duplicate started nothing: 0 states entered
    assert demo.function("RandomFailure").invocations == 1
    (record,) = demo.items()  # the name carries the workflow's own key
    (name,) = names(demo)
    assert name == f"k{record['id'].rpartition('#')[2]}-1"
    assert name_problem(name) is None and len(name) == 67


def test_twenty_concurrent_identical_calls_run_the_work_once(demo, local_engine):
    demo.function("RandomFailure").latency = 0.5
    client = client_of(local_engine, demo)
    answers = at_once(20, lambda: client.run({"orderId": "o-20"}))
    assert {answer.execution_arn for answer in answers} == {answers[0].execution_arn}
    assert [answer.output for answer in answers] == [answers[0].output] * 20
    assert answers[0].output["randomFailureFunc"] == ALL_GOOD
    assert demo.function("RandomFailure").invocations == 1
    assert len(demo.executions()) == 1


def test_a_failed_execution_is_retried_once_even_when_two_retries_race(demo, local_engine):
    work = demo.function("RandomFailure")
    client = client_of(local_engine, demo)
    work.environment["FAILURE_RATE"] = "1"
    with pytest.raises(WorkflowFailed) as failed:
        client.run({"orderId": "o-3"})
    assert (failed.value.error, failed.value.status) == ("RandomFailure", "FAILED")
    work.environment["FAILURE_RATE"] = "0"
    work.latency = 0.5
    retries = at_once(2, lambda: client.run({"orderId": "o-3"}))
    assert [retry.attempt for retry in retries] == [2, 2]
    assert retries[0].execution_arn == retries[1].execution_arn
    assert work.invocations == 2  # the failed run and one retry
    later = client.run({"orderId": "o-3"})
    assert (later.attempt, later.replayed, later.output) == (2, True, retries[0].output)
    assert work.invocations == 2
    assert [name[-2:] for name in names(demo)] == ["-1", "-2"]


def test_a_running_execution_is_returned_as_a_handle_and_joined(demo, local_engine):
    demo.function("RandomFailure").latency = 0.5
    client = client_of(local_engine, demo)
    handle = client.start({"orderId": "o-4"})
    joined = client.start({"orderId": "o-4"})
    assert joined.execution_arn == handle.execution_arn and not joined.replayed
    with pytest.raises(TimeoutError, match="still runs"):
        handle.result(timeout=0.01)
    assert handle.result().output == joined.result().output
    assert handle.result().output["randomFailureFunc"] == ALL_GOOD
    assert demo.function("RandomFailure").invocations == 1


def test_another_payload_under_the_key_is_refused_as_the_workflow_refuses_it(
    example_stacks, local_engine
):
    deployed = local_engine.deploy(example_stacks["TransactionStandard"])
    client = client_of(local_engine, deployed)
    first = client.run(PURCHASE)
    other_amount = {**PURCHASE, "Amount": 6}
    with pytest.raises(PayloadMismatchError) as refused:
        client.run(other_amount)
    workflow = deployed.run(other_amount)  # no client: the protocol answers
    assert (refused.value.error, refused.value.cause) == (workflow.error, workflow.cause)
    assert refused.value.error == "Idempotency.PayloadMismatch"
    # A field outside the key and the payload does not make another request.
    noted = client.run({**PURCHASE, "Note": "again"})
    assert (noted.replayed, noted.output) == (True, first.output)
    assert len(deployed.executions()) == 2  # the first, and the one run without the client


def test_an_input_without_a_key_is_refused_before_anything_starts(example_stacks, local_engine):
    deployed = local_engine.deploy(example_stacks["TransactionStandard"])
    client = client_of(local_engine, deployed)
    without_key = {"TransactionType": "PURCHASE", "Amount": 5}
    with pytest.raises(InvalidKeyError, match="TransactionId") as refused:
        client.run(without_key)
    assert deployed.executions() == []
    assert deployed.run(without_key).error == refused.value.error


def test_express_falls_back_to_the_protocol(example_stacks, local_engine):
    deployed = local_engine.deploy(example_stacks["IdempotentWorkflowExpress"])
    deployed.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    client = client_of(local_engine, deployed)
    answers = [client.run({"orderId": "o-5"}) for _ in range(2)]
    assert [(a.path, a.attempt, a.replayed) for a in answers] == [("protocol", None, False)] * 2
    assert [a.output["randomFailureFunc"] for a in answers] == [ALL_GOOD] * 2
    assert len(deployed.executions()) == 2  # Express names are not idempotent
    assert deployed.function("RandomFailure").invocations == 1  # the protocol de-duplicated
    with pytest.raises(ValueError, match="use run"):
        client.start({"orderId": "o-5"})


def throttle(sfn: Any, operations: dict[str, int]) -> dict[str, int]:
    """Answer the first calls of each operation with ThrottlingException (HTTP 400)."""
    sent: dict[str, int] = dict.fromkeys(operations, 0)

    class Body:
        def stream(self) -> Any:
            yield b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'

    def maybe_throttled(request: Any, operation: str, **_: Any) -> AWSResponse | None:
        sent[operation] += 1
        if sent[operation] > operations[operation]:
            return None
        request.url = "https://throttled.invalid/"  # every before-send handler runs: not moto's
        return AWSResponse(request.url, 400, {}, Body())

    for operation in operations:
        sfn.meta.events.register_first(  # before moto's own handler, which reads the URL
            f"before-send.sfn.{operation}",
            lambda request, operation=operation, **kw: maybe_throttled(request, operation, **kw),
        )
    return sent


def test_throttled_calls_are_retried_by_the_default_client(demo, local_engine):
    """The default client (no client passed) retries throttling with backoff (botocore's
    standard mode): three throttled StartExecution and DescribeExecution calls each."""
    client = WorkflowClient(demo.state_machine(), poll_seconds=0.02)
    assert client._sfn.meta.config.retries == {"mode": "standard", "total_max_attempts": 8}
    sent = throttle(client._sfn, {"StartExecution": 3, "DescribeExecution": 3})
    answer = client.run({"orderId": "o-6"})
    assert answer.output["randomFailureFunc"] == ALL_GOOD
    assert sent["StartExecution"] == 4 and sent["DescribeExecution"] >= 4
    assert (answer.replayed, answer.attempt) == (False, 1)
    assert len(demo.executions()) == 1
