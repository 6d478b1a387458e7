"""The order flow (examples.order_flow) on the local engine: what ran, what it returned, and
that a duplicated order ships once (the states, invocations, reservations and every message
the warehouse read)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from aws_cdk import Duration
from conftest import new_app, only_definition, state_events

from idempotent_workflows import TRANSIENT_SQS_ERRORS, RecordStatus
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.examples import OrderFlowStack
from idempotent_workflows.examples.warehouse import REJECTED_ERROR, Answer, WarehouseSimulator
from idempotent_workflows.private.record import RESULT_ATTRIBUTE, STATUS_ATTRIBUTE
from idempotent_workflows.runtime import PayloadMismatchError, WorkflowClient
from idempotent_workflows.testing import work_branch

ITEMS = [{"Sku": "A-1", "Quantity": 2, "Price": 10}, {"Sku": "B-2", "Quantity": 1, "Price": 5.5}]


def order(order_id: str, items: list[dict] | None = None) -> dict:
    return {"OrderId": order_id, "Currency": "EUR", "Items": ITEMS if items is None else items}


@pytest.fixture(scope="module")
def stack() -> OrderFlowStack:
    return OrderFlowStack(new_app(), "OrderFlow")


def flow_states(stack: OrderFlowStack) -> dict:
    """The flow's own states: the work of the order's protocol."""
    states: dict = work_branch(only_definition(stack))["States"]
    return states


@pytest.fixture(scope="module")
def states(stack) -> dict:
    """The flow's states (synthesized once)."""
    return flow_states(stack)


@pytest.fixture
def flow(stack, local_engine):
    return local_engine.deploy(stack)


def warehouse(flow, **answers: Answer) -> WarehouseSimulator:
    engine = flow.engine
    return WarehouseSimulator(engine.sqs, engine.sfn, flow.queue("WarehouseQueue"), answers)


def notifications(flow) -> list[dict]:
    return [message["Message"] for message in flow.published()]


def attempts(execution, state: str) -> int:
    """Times a state's task was scheduled (first try and retries)."""
    return len(state_events(execution, state, "TaskScheduled"))


# -- the definition --------------------------------------------------------------------------


def test_every_task_retries_transient_errors_and_every_state_that_can_fail_is_caught(states):
    for name in ("ValidateOrder", "ChargePayment", "ReserveItems", "WaitForWarehouse"):
        assert [c["Next"] for c in states[name]["Catch"]] == ["NotifyFailure"] * 2, name
        assert {e for c in states[name]["Catch"] for e in c["ErrorEquals"]} == {
            "States.ALL",
            "States.DataLimitExceeded",
        }
    assert "Lambda.ServiceException" in states["ValidateOrder"]["Retry"][0]["ErrorEquals"]
    reserve = states["ReserveItems"]["ItemProcessor"]["States"]["ReserveItem"]
    assert "Lambda.ServiceException" in reserve["Retry"][0]["ErrorEquals"]
    assert states["WaitForWarehouse"]["Retry"][0]["ErrorEquals"] == list(TRANSIENT_SQS_ERRORS)
    assert (
        "DynamoDB.ThrottlingException"
        in (
            states["ChargePayment"]["Branches"][0]["States"]["PaymentAcquireLock"]["Retry"][0][
                "ErrorEquals"
            ]
        )
    )
    assert states["NotifyFailure"]["Retry"] and states["NotifyFailure"]["Catch"]


def test_validation_retries_with_backoff_but_never_an_invalid_order(states):
    retries = states["ValidateOrder"]["Retry"]
    assert retries[1:] == [
        {"ErrorEquals": ["InvalidOrder"], "MaxAttempts": 0},
        {
            "ErrorEquals": ["States.TaskFailed"],
            "IntervalSeconds": 2,
            "MaxAttempts": 3,
            "BackoffRate": 2,
        },
    ]


def test_the_map_and_the_callback_take_their_limits_from_the_props():
    stack = OrderFlowStack(
        new_app(),
        "Tuned",
        max_concurrency=2,
        warehouse_timeout=Duration.days(3),
        warehouse_heartbeat=Duration.hours(1),
    )
    states = flow_states(stack)
    assert states["ReserveItems"]["MaxConcurrency"] == 2
    wait = states["WaitForWarehouse"]
    assert (wait["TimeoutSeconds"], wait["HeartbeatSeconds"]) == (3 * 86400, 3600)
    defaults = flow_states(OrderFlowStack(new_app(), "Defaults"))
    assert defaults["ReserveItems"]["MaxConcurrency"] == 5


@pytest.mark.parametrize(
    ("props", "error", "message"),
    [
        ({"max_concurrency": 0}, ValueError, "OrderFlowStack: max_concurrency must be at least 1"),
        (
            {"max_concurrency": "5"},
            TypeError,
            "OrderFlowStack: max_concurrency must be a whole number",
        ),
        (
            {"warehouse_timeout": 3600},
            TypeError,
            r"OrderFlowStack: warehouse_timeout must be an aws_cdk.Duration, got int 3600: "
            r"pass warehouse_timeout=Duration.seconds\(3600\)",
        ),
        (
            {"warehouse_heartbeat": Duration.hours(3)},
            ValueError,
            r"OrderFlowStack: warehouse_heartbeat \(10800 s\) must be shorter than "
            r"warehouse_timeout \(7200 s\)",
        ),
        (
            {"warehouse_timeout": Duration.millis(1500)},
            ValueError,
            "OrderFlowStack: warehouse_timeout must be a whole number of seconds",
        ),
        (
            {"removal_policy": "DESTROY"},
            TypeError,
            "OrderFlowStack: removal_policy must be a RemovalPolicy",
        ),
    ],
)
def test_bad_props_are_refused_with_the_fix(props, error, message):
    """Each error names the stack and its prop, also where a library piece checked it."""
    with pytest.raises(error, match=f"^{message}"):
        OrderFlowStack(new_app(), "Bad", **props)


def test_a_warehouse_timeout_within_the_default_heartbeat_has_no_heartbeat():
    stack = OrderFlowStack(new_app(), "Short", warehouse_timeout=Duration.minutes(5))
    wait = flow_states(stack)["WaitForWarehouse"]
    assert wait["TimeoutSeconds"] == 300
    assert "HeartbeatSeconds" not in wait


# -- behaviour on the engine -----------------------------------------------------------------


def test_an_order_is_validated_charged_reserved_and_shipped(flow):
    with warehouse(flow) as simulator:
        execution = flow.run(order("o-1"))
    assert execution.status == "SUCCEEDED", execution.cause
    output = execution.output
    assert output["Total"] == 25.5 and output["Items"] == ITEMS
    assert output["Payment"]["status"] == "CHARGED" and output["Payment"]["amount"] == 25.5
    assert [r["Sku"] for r in output["Reservations"]] == ["A-1", "B-2"]
    assert output["Shipment"]["OrderId"] == "o-1" and output["Shipment"]["ShipmentId"]
    assert simulator.answered == {"o-1": Answer.SHIP}
    assert flow.invocations() == {
        flow.function("ValidateOrder").logical_id: 1,
        flow.function("Charge").logical_id: 1,
        flow.function("ReserveItem").logical_id: 2,
    }
    assert notifications(flow) == []


def test_validation_that_fails_twice_then_succeeds_takes_three_attempts(flow, local_engine):
    (machine,) = flow.state_machines
    local_engine.load_mock_config(
        {
            "StateMachines": {machine: {"TestCases": {"Flaky": {"ValidateOrder": "F"}}}},
            "MockedResponses": {
                "F": {"0-1": {"Throw": {"Error": "States.TaskFailed", "Cause": "cold start"}}}
            },
        }
    )
    with warehouse(flow):
        execution = flow.run(order("o-2"), test_case="Flaky")
    assert execution.status == "SUCCEEDED", execution.cause
    assert attempts(execution, "ValidateOrder") == 3
    assert flow.function("ValidateOrder").invocations == 1  # the third attempt ran it


def test_an_invalid_order_is_not_retried_and_is_notified(flow):
    execution = flow.run({"OrderId": "o-3", "Currency": "EUR", "Items": []})
    assert (execution.status, execution.error) == ("FAILED", "InvalidOrder")
    assert "Items must be a list" in execution.cause
    assert attempts(execution, "ValidateOrder") == 1
    (notice,) = notifications(flow)
    assert (notice["OrderId"], notice["Error"]) == ("o-3", "InvalidOrder")
    assert flow.function("Charge").invocations == 0


def test_the_same_order_submitted_twice_at_once_is_charged_once(flow):
    flow.function("Charge").latency = 1.0  # the second execution arrives while it charges
    with warehouse(flow):
        executions = [flow.start(order("o-4")) for _ in range(2)]
        outcomes = [execution.wait() for execution in executions]
    assert [e.status for e in outcomes] == ["SUCCEEDED", "SUCCEEDED"]
    assert flow.function("Charge").invocations == 1
    assert any("WaitForLock" in e.states_entered for e in outcomes)  # they did overlap
    assert outcomes[0].output == outcomes[1].output  # the whole order's outcome, shared
    records = {item["id"].partition("#")[0]: item for item in flow.items("Payments")}
    assert records.keys() == {"Order", "Payment"}
    assert {record[STATUS_ATTRIBUTE] for record in records.values()} == {RecordStatus.SUCCEEDED}
    assert json.loads(records["Payment"][RESULT_ATTRIBUTE]) == outcomes[0].output["Payment"]
    assert json.loads(records["Order"][RESULT_ATTRIBUTE]) == outcomes[0].output


def test_a_repeated_order_gets_the_first_receipt_and_no_new_charge(flow):
    with warehouse(flow):
        first, again = flow.run(order("o-5")), flow.run(order("o-5"))
    assert first.output["Payment"] == again.output["Payment"]
    assert flow.function("Charge").invocations == 1
    changed = flow.run(order("o-5", [{"Sku": "A-1", "Quantity": 9, "Price": 10}]))
    assert (changed.status, changed.error) == ("FAILED", "Idempotency.PayloadMismatch")
    assert flow.function("Charge").invocations == 1


def test_a_declined_payment_is_notified_with_its_error(flow):
    big = order("o-6", [{"Sku": "GOLD", "Quantity": 1, "Price": 20_000}])
    execution = flow.run(big)
    assert (execution.status, execution.error) == ("FAILED", "PaymentDeclined")
    (notice,) = notifications(flow)
    assert notice["Error"] == "PaymentDeclined" and "over the limit" in notice["Cause"]
    assert flow.function("ReserveItem").invocations == 0


def test_a_sold_out_item_fails_the_map_and_is_notified(flow):
    execution = flow.run(order("o-7", [*ITEMS, {"Sku": "SOLD-OUT-9", "Quantity": 1, "Price": 1}]))
    assert (execution.status, execution.error) == ("FAILED", "OutOfStock")
    (notice,) = notifications(flow)
    assert notice["Error"] == "OutOfStock" and "SOLD-OUT-9" in notice["Cause"]


def test_a_warehouse_rejection_is_notified_and_fails_the_order(flow):
    with warehouse(flow, **{"o-8": Answer.REJECT}):
        execution = flow.run(order("o-8"))
    assert (execution.status, execution.error) == ("FAILED", REJECTED_ERROR)
    assert "cannot ship order o-8" in execution.cause
    (notice,) = notifications(flow)
    assert (notice["OrderId"], notice["Error"]) == ("o-8", REJECTED_ERROR)


def test_a_silent_warehouse_misses_its_heartbeat(flow):
    started = time.monotonic()
    with warehouse(flow, **{"o-9": Answer.IGNORE}) as simulator:
        execution = flow.run(order("o-9"))
    # The 10-minute heartbeat (0.6 s here) fired, long before the 2-hour timeout (7.2 s).
    assert time.monotonic() - started < 5
    assert simulator.answered == {"o-9": Answer.IGNORE}
    # Step Functions names a missed heartbeat States.Timeout too (a Catch or Retry on
    # States.HeartbeatTimeout would single it out).
    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")
    (notice,) = notifications(flow)
    assert notice["Error"] == "States.Timeout"


def test_a_warehouse_that_beats_but_never_answers_times_out(local_engine):
    # A 10-minute heartbeat and a 20-minute timeout: 0.6 s and 1.2 s here, beaten every
    # 0.05 s, so that a busy machine's pauses never pass for a missed heartbeat.
    stack = OrderFlowStack(new_app(), "Patient", warehouse_timeout=Duration.minutes(20))
    flow = local_engine.deploy(stack)
    with warehouse(flow, **{"o-10": Answer.STALL}):
        execution = flow.run(order("o-10"))
    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")
    # The task timeout fired (1.2 s after the message), not the heartbeat (0.6 s).
    (sent,) = [e for e in execution.history if e["type"] == "TaskSubmitted"]
    (timed_out,) = [e for e in execution.history if e["type"] == "TaskTimedOut"]
    assert (timed_out["timestamp"] - sent["timestamp"]).total_seconds() >= 1.0
    (notice,) = notifications(flow)
    assert notice["Error"] == "States.Timeout"


def test_reserve_items_never_has_more_than_five_in_flight(flow):
    reserve = flow.function("ReserveItem")
    reserve.latency = 0.1
    items = [{"Sku": f"S-{n}", "Quantity": 1, "Price": 1} for n in range(20)]
    with warehouse(flow):
        execution = flow.run(order("o-11", items))
    assert execution.status == "SUCCEEDED", execution.cause
    assert len(execution.output["Reservations"]) == 20 and reserve.invocations == 20
    assert 3 <= reserve.peak_concurrency <= 5  # the limit, not one at a time, not more


# -- a duplicated order ships once: concurrent, later, or after a failure (issue 21) ---------

DUPLICATE = [S.ACQUIRE_LOCK, S.READ_RECORD, S.CHECK_RECORD, S.RETURN_STORED_RESULT]


def reservations(flow) -> dict[str, str]:
    return {item["id"]: item["ReservationId"] for item in flow.items("Reservations")}


def work_runs(flow) -> dict[str, int]:
    return {name: flow.function(name).invocations for name in ("Charge", "ReserveItem")}


def test_a_later_duplicate_enters_four_states_and_reserves_and_ships_nothing(flow):
    with warehouse(flow) as simulator:
        first = flow.run(order("o-1"))
        again = flow.run(order("o-1"))
    assert first.status == again.status == "SUCCEEDED", (first.cause, again.cause)
    assert again.output == first.output  # the same payment, reservations and shipment
    assert again.states_entered == DUPLICATE
    assert again.lambda_invocations == 0
    assert work_runs(flow) == {"Charge": 1, "ReserveItem": 2}
    assert reservations(flow).keys() == {"o-1#0", "o-1#1"}
    assert [message["OrderId"] for message in simulator.received] == ["o-1"]


def test_concurrent_duplicates_reserve_each_item_once_and_ship_once(flow):
    flow.function("Charge").latency = 0.3  # the others arrive while the first charges
    with warehouse(flow) as simulator, ThreadPoolExecutor(3) as pool:
        started = list(pool.map(lambda _: flow.start(order("o-2")), range(3)))
        outcomes = [execution.wait() for execution in started]
    assert [e.status for e in outcomes] == ["SUCCEEDED"] * 3, [e.cause for e in outcomes]
    assert [e.output for e in outcomes] == [outcomes[0].output] * 3
    assert work_runs(flow) == {"Charge": 1, "ReserveItem": 2}
    assert reservations(flow).keys() == {"o-2#0", "o-2#1"}
    assert len(simulator.received) == 1
    waiters = [e for e in outcomes if S.WAIT_FOR_LOCK in e.states_entered]
    assert len(waiters) == 2  # they waited for the first order, which ran alone


def test_a_retry_after_a_failure_keeps_the_charge_and_the_reservations(flow):
    with warehouse(flow, **{"o-3": Answer.REJECT}) as simulator:
        failed = flow.run(order("o-3"))
        assert (failed.status, failed.error) == ("FAILED", REJECTED_ERROR)
        reserved = reservations(flow)
        simulator.answers = {}  # the warehouse ships it this time
        retried = flow.run(order("o-3"))
        again = flow.run(order("o-3"))
    assert retried.status == "SUCCEEDED", retried.cause
    assert retried.output["Payment"] == failed_payment(flow)  # charged once
    assert flow.function("Charge").invocations == 1
    assert reservations(flow) == reserved  # each line reserved once, its id kept
    assert [r["ReservationId"] for r in retried.output["Reservations"]] == list(reserved.values())
    assert again.states_entered == DUPLICATE and again.output == retried.output
    # One message per attempt that reached the warehouse: the rejected one and the shipped one.
    assert [m["OrderId"] for m in simulator.received] == ["o-3", "o-3"]


def failed_payment(flow) -> dict:
    """The receipt the charge's protocol stored (the order itself failed)."""
    (payment,) = [item for item in flow.items("Payments") if item["id"].startswith("Payment#")]
    receipt: dict = json.loads(payment[RESULT_ATTRIBUTE])
    return receipt


def test_an_order_changed_under_the_same_id_is_refused_and_reserves_nothing(flow):
    with warehouse(flow):
        flow.run(order("o-4"))
        changed = flow.run(order("o-4", [{"Sku": "A-1", "Quantity": 9, "Price": 10}]))
    assert (changed.status, changed.error) == ("FAILED", "Idempotency.PayloadMismatch")
    assert reservations(flow).keys() == {"o-4#0", "o-4#1"}


def test_through_the_client_a_duplicate_order_enters_no_state(flow, local_engine):
    client = WorkflowClient(flow.state_machine(), client=local_engine.sfn, poll_seconds=0.02)
    with warehouse(flow) as simulator:
        first = client.run(order("o-5"))
        again = client.run(order("o-5"))
        with pytest.raises(PayloadMismatchError):
            client.run(order("o-5", ITEMS[:1]))
    assert (first.replayed, again.replayed) == (False, True)
    assert again.output == first.output
    assert len(flow.executions()) == 1  # the duplicate and the changed order started nothing
    assert len(simulator.received) == 1
    assert client.description.namespace == "Order"  # the outermost protocol names the order
