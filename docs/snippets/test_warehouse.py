from aws_cdk import App

from idempotent_workflows.examples import OrderFlowStack
from idempotent_workflows.testing import LocalEngine


def test_the_warehouse_answer_becomes_the_shipment(local_engine: LocalEngine) -> None:
    flow = local_engine.deploy(OrderFlowStack(App(), "Orders"))
    execution = flow.start(
        {"OrderId": "o-1", "Currency": "EUR", "Items": [{"Sku": "A", "Quantity": 1, "Price": 4}]}
    )
    (message,) = flow.receive("WarehouseQueue", timeout=10)  # its body, with the token
    local_engine.sfn.send_task_heartbeat(taskToken=message["TaskToken"])  # still working on it
    local_engine.sfn.send_task_success(
        taskToken=message["TaskToken"], output='{"ShipmentId": "s-1"}'
    )  # or send_task_failure(taskToken=..., error="Warehouse.Rejected", cause="...")
    assert execution.wait().output["Shipment"] == {"ShipmentId": "s-1"}
    assert flow.function("Charge").invocations == 1
    assert flow.published("OrderFailures") == []  # what the failure topic was sent
