"""The synthesized state machines, executed on the local engine: what ran, what was stored."""

from __future__ import annotations

import time

import pytest
from aws_cdk import Stack
from aws_cdk import aws_stepfunctions as sfn
from conftest import new_app, only_definition, only_record, set_record

from idempotent_workflows import IdempotencyKey, IdempotentWorkflow, RecordStatus
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.examples import IdempotentWorkflowStack
from idempotent_workflows.testing import work_branch

TYPES = {"Standard": sfn.StateMachineType.STANDARD, "Express": sfn.StateMachineType.EXPRESS}
DEMO_OUTPUT = {
    **{f"step{n}": {"result": f"Output of step {n}"} for n in range(1, 5)},
    "randomFailureFunc": "All good",
}


@pytest.fixture(params=list(TYPES))
def demo(request, example_stacks, local_engine):
    """The classic demo, deployed; its random step succeeds unless a test says otherwise."""
    deployed = local_engine.deploy(example_stacks[f"IdempotentWorkflow{request.param}"])
    deployed.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    return deployed


@pytest.fixture(params=list(TYPES))
def transactions(request, example_stacks, local_engine):
    return local_engine.deploy(example_stacks[f"Transaction{request.param}"])


def random_failure_runs(deployed) -> int:
    return deployed.function("RandomFailure").invocations


# -- first run and duplicates ----------------------------------------------------------------


def test_first_run_runs_the_work_once_and_stores_its_result(demo):
    started = time.time()
    execution = demo.run({"order": 1})
    assert execution.status == "SUCCEEDED"
    assert execution.output == DEMO_OUTPUT
    assert random_failure_runs(demo) == 1
    record = only_record(demo)
    assert record["executionstatus"] == RecordStatus.SUCCEEDED
    assert record["executionresult"] == (
        '{"step1":{"result":"Output of step 1"},"step2":{"result":"Output of step 2"},'
        '"step3":{"result":"Output of step 3"},"step4":{"result":"Output of step 4"},'
        '"randomFailureFunc":"All good"}'
    )
    assert record["execution"] == execution.arn
    assert "leaseexpiry" not in record
    assert started + 86400 - 5 <= record["ttl"] <= time.time() + 86400 + 5


def test_duplicate_returns_the_stored_output_without_running_the_work(demo):
    first = demo.run({"order": 1})
    duplicate = demo.run({"order": 1})
    assert duplicate.status == "SUCCEEDED"
    assert duplicate.output == first.output
    assert random_failure_runs(demo) == 1
    assert duplicate.lambda_invocations == 0
    assert duplicate.dynamodb_calls == ["updateItem", "getItem"]


def test_key_order_does_not_make_a_new_key(demo):
    demo.run({"a": 1, "b": {"x": [1, 2], "y": None}})
    reordered = demo.run({"b": {"y": None, "x": [1, 2]}, "a": 1})
    assert reordered.states_entered[-1] == S.RETURN_STORED_RESULT
    assert random_failure_runs(demo) == 1
    different = demo.run({"b": {"y": None, "x": [2, 1]}, "a": 1})
    assert S.RUN_WORK in different.states_entered
    assert random_failure_runs(demo) == 2


# -- failures ----------------------------------------------------------------------------------


def test_failed_work_is_recorded_then_retried(demo):
    demo.function("RandomFailure").environment["FAILURE_RATE"] = "1"
    failed = demo.run({"order": 2})
    assert failed.status == "FAILED"
    assert failed.error == "RandomFailure"
    assert "run the workflow again" in failed.cause
    record = only_record(demo)
    assert record["executionstatus"] == RecordStatus.FAILED
    assert '"Error":"RandomFailure"' in record["executionresult"]

    demo.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    retried = demo.run({"order": 2})
    assert retried.status == "SUCCEEDED" and retried.output == DEMO_OUTPUT
    assert random_failure_runs(demo) == 2
    assert only_record(demo)["executionstatus"] == RecordStatus.SUCCEEDED


def test_a_dead_holder_is_taken_over_after_its_lease(demo, local_engine):
    demo.run({"order": 3})
    set_record(
        local_engine,
        demo,
        executionstatus="IN_PROGRESS",
        execution="arn:dead",
        leaseexpiry=int(time.time()) - 1,
    )
    takeover = demo.run({"order": 3})
    assert takeover.status == "SUCCEEDED" and takeover.output == DEMO_OUTPUT
    assert random_failure_runs(demo) == 2
    assert only_record(demo)["execution"] == takeover.arn


def test_a_live_holder_makes_waiters_time_out_after_the_poll_bound(demo, local_engine):
    demo.run({"order": 4})
    set_record(
        local_engine,
        demo,
        executionstatus="IN_PROGRESS",
        execution="arn:alive",
        leaseexpiry=int(time.time()) + 600,
    )
    waiter = demo.run({"order": 4})
    assert waiter.status == "FAILED"
    assert waiter.error == "Idempotency.LockWaitTimeout"
    assert "arn:alive still holds the lock" in waiter.cause
    max_polls = 90 if "Standard" in demo.name else 16
    assert waiter.states_entered.count(S.WAIT_FOR_LOCK) == max_polls
    assert random_failure_runs(demo) == 1


def test_an_expired_success_is_treated_as_absent(demo, local_engine):
    demo.run({"order": 5})
    set_record(local_engine, demo, ttl=int(time.time()) - 1)
    again = demo.run({"order": 5})
    assert S.RUN_WORK in again.states_entered
    assert random_failure_runs(demo) == 2
    assert only_record(demo)["ttl"] > time.time() + 86000


def test_a_holder_that_lost_its_lock_does_not_overwrite_the_record(demo, local_engine):
    demo.function("RandomFailure").latency = 0.5
    holder = demo.start({"order": 6})
    deadline = time.time() + 10
    while not demo.items() and time.time() < deadline:
        time.sleep(0.01)
    set_record(local_engine, demo, execution="arn:took-over")
    assert holder.wait().error == "Idempotency.LockLost"
    assert only_record(demo)["execution"] == "arn:took-over"
    assert only_record(demo)["executionstatus"] == RecordStatus.IN_PROGRESS


def test_a_result_that_cannot_be_stored_fails_by_name(demo, local_engine):
    """The table becomes unwritable while the work runs: the work's success is not claimed."""
    demo.function("RandomFailure").latency = 0.5
    execution = demo.start({"order": 7})
    deadline = time.time() + 10
    while not demo.items() and time.time() < deadline:
        time.sleep(0.01)
    local_engine.dynamodb.delete_table(TableName=demo.table())
    assert execution.wait().status == "FAILED"
    assert execution.error == "Idempotency.ResultNotStored"
    assert "could not be stored" in execution.cause
    assert "ResourceNotFoundException" in execution.cause


# -- keys ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def special_stacks():
    """Stacks for the JMESPath key and the large result, each type, synthesized once."""
    app = new_app()
    stacks = {}
    for name, workflow_type in TYPES.items():
        stacks["jmespath", name] = IdempotentWorkflowStack(
            app,
            f"Jmespath{name}",
            key=IdempotencyKey.from_input_jmespath(),
            failure_rate="0",
            workflow_type=workflow_type,
        )
        large = stacks["large", name] = Stack(app, f"LargeResult{name}")
        double = "{% $states.input.blob & $states.input.blob %}"
        IdempotentWorkflow(
            large,
            "Workflow",
            key=IdempotencyKey.from_fields("id"),
            work=sfn.Pass.jsonata(large, "Double", outputs={"doubled": double}),
            workflow_type=workflow_type,
        )
    return stacks


@pytest.mark.parametrize("workflow_type", list(TYPES))
def test_input_carried_jmespath_key(special_stacks, local_engine, workflow_type):
    deployed = local_engine.deploy(special_stacks["jmespath", workflow_type])
    expression = {"idempotencyKeyJmespath": "[customer, order.id]"}
    first = deployed.run({**expression, "customer": "c", "order": {"id": 1}, "at": "10:00"})
    second = deployed.run({**expression, "customer": "c", "order": {"id": 1}, "at": "10:05"})
    assert first.status == second.status == "SUCCEEDED"
    assert second.output == first.output == DEMO_OUTPUT
    assert second.states_entered[-1] == S.RETURN_STORED_RESULT
    assert deployed.function("RandomFailure").invocations == 1
    assert deployed.function("WorkflowProtocolKeyFunction").invocations == 2

    nothing = deployed.run({"idempotencyKeyJmespath": "missing.field", "customer": "c"})
    assert nothing.status == "FAILED"
    assert nothing.error == "Idempotency.InvalidKey"
    assert "selected nothing" in nothing.cause
    assert len(deployed.items()) == 1


@pytest.mark.parametrize("workflow_type", list(TYPES))
def test_a_result_too_large_to_store_fails_by_name_and_leaves_no_lock(
    special_stacks, local_engine, workflow_type
):
    deployed = local_engine.deploy(special_stacks["large", workflow_type])
    # The work's output (420 KB) is past the 256 KiB payload limit and the 400 KB item limit.
    execution = deployed.run({"id": "big", "blob": "x" * 210_000})
    assert execution.status == "FAILED"
    assert execution.error == "States.DataLimitExceeded"
    record = only_record(deployed)
    assert record["executionstatus"] == RecordStatus.FAILED
    assert "leaseexpiry" not in record
    assert "States.DataLimitExceeded" in record["executionresult"]
    # Nothing is left locked: the next execution with a smaller blob runs the work.
    assert deployed.run({"id": "big", "blob": "small"}).output == {"doubled": "smallsmall"}


# -- transactions --------------------------------------------------------------------------


def test_purchase_and_refund_run_only_their_own_function(transactions):
    purchase = transactions.run({"TransactionType": "PURCHASE", "TransactionId": "p1", "Amount": 9})
    assert purchase.output["Status"] == "CHARGED"
    refund = transactions.run({"TransactionType": "REFUND", "TransactionId": "r1", "Amount": 9})
    assert refund.output["Status"] == "REFUNDED"
    assert transactions.invocations() == {
        transactions.function("Purchase").logical_id: 1,
        transactions.function("Refund").logical_id: 1,
    }


def test_a_repeated_transaction_is_charged_once(transactions):
    event = {"TransactionType": "PURCHASE", "TransactionId": "p2", "Amount": 20}
    first = transactions.run(event)
    again = transactions.run({**event, "Retry": 1})
    assert again.output == first.output  # the same receipt: not charged again
    assert transactions.function("Purchase").invocations == 1


def test_the_same_key_with_another_amount_is_refused_by_name(transactions):
    """Payload validation: TransactionId is the key, TransactionType and Amount must match."""
    event = {"TransactionType": "PURCHASE", "TransactionId": "p3", "Amount": 20}
    first = transactions.run(event)
    record = only_record(transactions)
    mismatch = transactions.run({**event, "Amount": 2000})
    assert mismatch.status == "FAILED"
    assert mismatch.error == "Idempotency.PayloadMismatch"
    assert record["id"] in mismatch.cause and "TransactionType, Amount" in mismatch.cause
    assert "2000" not in mismatch.cause and "20," not in mismatch.cause  # names, never values
    assert mismatch.states_entered == [
        S.ACQUIRE_LOCK,
        S.READ_RECORD,
        S.CHECK_RECORD,
        S.PAYLOAD_MISMATCH,
    ]
    assert only_record(transactions) == record  # the record is untouched
    assert transactions.function("Purchase").invocations == 1
    # A field outside the validated ones does not make another request.
    assert transactions.run({**event, "Note": "retry"}).output == first.output
    assert transactions.function("Purchase").invocations == 1


def test_a_mismatch_is_refused_while_the_first_request_still_runs(transactions, local_engine):
    transactions.function("Purchase").latency = 1.0
    event = {"TransactionType": "PURCHASE", "TransactionId": "p4", "Amount": 20}
    holder = transactions.start(event)
    deadline = time.time() + 10
    while not transactions.items() and time.time() < deadline:
        time.sleep(0.01)
    mismatch = transactions.run({**event, "TransactionType": "REFUND"})
    assert mismatch.error == "Idempotency.PayloadMismatch"
    assert S.WAIT_FOR_LOCK not in mismatch.states_entered
    assert holder.wait().status == "SUCCEEDED"
    assert transactions.invocations() == {
        transactions.function("Purchase").logical_id: 1,
        transactions.function("Refund").logical_id: 0,
    }


def test_after_a_failure_the_key_may_carry_another_payload(transactions):
    """A FAILED record is retried by the next request, whatever its validated fields."""
    bad = {"TransactionType": "PURCHASE", "TransactionId": "p5", "Amount": -1}
    assert transactions.run(bad).error == "InvalidTransaction"
    fixed = transactions.run({**bad, "Amount": 1})
    assert fixed.status == "SUCCEEDED" and fixed.output["Amount"] == 1
    assert only_record(transactions)["executionstatus"] == RecordStatus.SUCCEEDED


def test_an_unknown_type_ends_in_the_routers_named_failure(transactions):
    unknown = transactions.run({"TransactionType": "purchase", "TransactionId": "u1", "Amount": 1})
    assert unknown.status == "FAILED"
    assert unknown.error == "Transaction.UnknownType"
    assert (
        unknown.cause == "Unsupported TransactionType purchase; accepted types: PURCHASE, REFUND."
    )
    assert sum(transactions.invocations().values()) == 0


# -- budget --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["IdempotentWorkflowStandard", "IdempotentWorkflowExpress"])
def test_state_budget(example_stacks, local_engine, name):
    stack = example_stacks[name]
    work = set(work_branch(only_definition(stack))["States"])
    deployed = local_engine.deploy(stack)
    deployed.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    local_engine.wait_scale = 0.01  # a 10 s poll takes 100 ms
    deployed.function("RandomFailure").latency = 0.5

    started = [deployed.start({"budget": 1}) for _ in range(2)]
    first, waiter = sorted(
        (e.wait() for e in started), key=lambda e: S.RUN_WORK not in e.states_entered
    )
    duplicate = deployed.run({"budget": 1})

    machinery = [s for s in first.states_entered if s not in work]
    assert len(machinery) <= 3, machinery
    assert len(duplicate.states_entered) <= 4, duplicate.states_entered
    polls = waiter.states_entered.count(S.WAIT_FOR_LOCK)
    assert polls >= 2
    loop = waiter.states_entered[waiter.states_entered.index(S.WAIT_FOR_LOCK) :]
    assert len(loop) - 1 <= 3 * polls, loop  # the loop ends in the final return
