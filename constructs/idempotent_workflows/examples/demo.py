"""The main job's demo: run the synthesized example stacks on the local engine and report.

Usage: ``python -m idempotent_workflows.examples.demo [cdk.out]`` after ``cdk synth``.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

from .. import ProtocolState as S
from ..runtime import WorkflowClient
from ..testing import DeployedStack, Execution, LocalEngine, Response, post_json
from .warehouse import Answer, WarehouseSimulator


def _line(label: str, execution: Execution, work_runs: int, result: Any = None) -> str:
    if result is None:
        result = execution.output if execution.status == "SUCCEEDED" else execution.error
    text = str(result)
    text = text if len(text) <= 70 else text[:67] + "..."
    return (
        f"  {label:<34} {execution.status:<9} states={len(execution.states_entered):<3}"
        f" polls={execution.states_entered.count(S.WAIT_FOR_LOCK):<3} work runs so far={work_runs}"
        f"\n  {'':<34} -> {text}"
    )


def _demo_workflow(deployed: DeployedStack) -> list[str]:
    function = deployed.function("RandomFailure")
    function.environment["FAILURE_RATE"] = "0"
    lines = []

    def run(label: str, execution_input: dict[str, Any]) -> None:
        lines.append(_line(label, deployed.run(execution_input), function.invocations))

    run("first run", {"orderId": "A-1"})
    run("duplicate", {"orderId": "A-1"})
    function.latency = 0.5
    concurrent = [deployed.start({"orderId": "A-2"}) for _ in range(5)]
    for index, execution in enumerate(concurrent):
        lines.append(
            _line(f"concurrent duplicate {index + 1}/5", execution.wait(), function.invocations)
        )
    function.latency = 0.0
    function.environment["FAILURE_RATE"] = "1"
    run("step fails", {"orderId": "A-3"})
    function.environment["FAILURE_RATE"] = "0"
    run("same input, retried", {"orderId": "A-3"})
    return lines


def _demo_transactions(deployed: DeployedStack) -> list[str]:
    lines = []

    def run(label: str, execution_input: dict[str, Any]) -> None:
        execution = deployed.run(execution_input)
        runs = sum(deployed.invocations().values())
        lines.append(_line(label, execution, runs))

    run("PURCHASE", {"TransactionType": "PURCHASE", "TransactionId": "T-1", "Amount": 25})
    run("REFUND", {"TransactionType": "REFUND", "TransactionId": "T-2", "Amount": 25})
    run("PURCHASE repeated", {"TransactionType": "PURCHASE", "TransactionId": "T-1", "Amount": 25})
    run(
        "same id, other amount",
        {"TransactionType": "PURCHASE", "TransactionId": "T-1", "Amount": 99},
    )
    run("unknown type", {"TransactionType": "GIFT", "TransactionId": "T-3", "Amount": 5})
    return lines


def _http_line(label: str, answer: Response, work_runs: int) -> str:
    retry = answer.headers.get("Retry-After")
    replayed = answer.headers.get("Idempotent-Replayed")
    text = answer.body if len(answer.body) <= 70 else answer.body[:67] + "..."
    return (
        f"  {label:<34} HTTP {answer.status:<4}"
        f"{f' Retry-After: {retry}' if retry else '':<16}"
        f"{f' Replayed: {replayed}' if replayed else '':<17} work runs so far={work_runs}"
        f"\n  {'':<34} -> {text}"
    )


def _demo_api(deployed: DeployedStack) -> list[str]:
    """Real HTTP requests to the stack's REST API, served on 127.0.0.1 by the engine."""
    charge = deployed.function("Charge")
    lines = []
    with deployed.serve_api() as api:
        url = f"{api.url}/payments"
        lines.append(f"  POST {url}")

        def send(label: str, body: Any, key: str | None, caller: str | None = "ALICE") -> None:
            headers = {} if key is None else {"Idempotency-Key": key}
            answer = post_json(url, body, headers, access_key=caller)
            lines.append(_http_line(label, answer, charge.invocations))

        payment = {"amount": 25, "currency": "EUR"}
        send("first request", payment, "pay-1")
        send("retry, same key", payment, "pay-1")
        send('same key, quoted: "pay-1"', payment, '"pay-1"')
        send("same key, other body", {"amount": 99, "currency": "EUR"}, "pay-1")
        send("same key, another caller", payment, "pay-1", caller="BOB")
        send("no Idempotency-Key header", payment, None)
        send("a key that breaks the rule: pay 1", payment, "pay 1")
        send("unsigned request", payment, "pay-1", caller=None)
        send("body over 256 KiB", {**payment, "note": "x" * 300_000}, "pay-big")
        send("declined (work error)", {"amount": 20_000, "currency": "EUR"}, "pay-2")
        charge.latency = 0.5
        with ThreadPoolExecutor(5) as pool:
            answers = list(
                pool.map(lambda _: post_json(url, payment, {"Idempotency-Key": "pay-3"}), range(5))
            )
        for index, answer in enumerate(answers):
            lines.append(
                _http_line(f"concurrent duplicate {index + 1}/5", answer, charge.invocations)
            )
    return lines


def _order_result(execution: Execution) -> str | None:
    """Payment, reservations and shipment of a shipped order, in short."""
    if execution.status != "SUCCEEDED":
        return None
    return _shipment(execution.output)


def _shipment(output: dict[str, Any]) -> str:
    """Payment, reservations and shipment of an order's output, in short."""
    return (
        f"payment {output['Payment']['paymentId'][:8]}, reserved "
        f"{' '.join(r['ReservationId'][:8] for r in output['Reservations'])}, "
        f"shipment {output['Shipment']['ShipmentId'][:8]}"
    )


def _demo_orders(deployed: DeployedStack) -> list[str]:
    """Orders through the flow, answered by the warehouse simulator (or not), duplicated."""
    charge, reserve = deployed.function("Charge"), deployed.function("ReserveItem")
    items = [{"Sku": "A-1", "Quantity": 2, "Price": 10}, {"Sku": "B-2", "Quantity": 1, "Price": 5}]
    lines = []
    engine = deployed.engine

    def order(order_id: str) -> dict[str, Any]:
        return {"OrderId": order_id, "Currency": "EUR", "Items": items}

    def run(label: str, order_id: str) -> None:
        execution = deployed.run(order(order_id))
        lines.append(_line(label, execution, charge.invocations, _order_result(execution)))

    answers = {"O-3": Answer.REJECT, "O-4": Answer.IGNORE, "O-5": Answer.STALL}
    queue = deployed.queue("WarehouseQueue")
    with WarehouseSimulator(engine.sqs, engine.sfn, queue, answers) as warehouse:
        run("order completes", "O-1")
        run("same order again (duplicate)", "O-1")
        with ThreadPoolExecutor(3) as pool:
            concurrent = list(pool.map(lambda _: deployed.start(order("O-2")), range(3)))
        for index, execution in enumerate(concurrent):
            execution.wait()
            label = f"concurrent duplicate {index + 1}/3"
            lines.append(_line(label, execution, charge.invocations, _order_result(execution)))
        run("warehouse rejects", "O-3")
        warehouse.answers = {**answers, "O-3": Answer.SHIP}
        run("rejected order sent again", "O-3")
        client = WorkflowClient(deployed.state_machine(), client=engine.sfn, poll_seconds=0.05)
        for label in ("new order through WorkflowClient", "its duplicate through the client"):
            before = len(deployed.executions())
            answer = client.run(order("O-6"))
            started = len(deployed.executions()) - before
            lines.append(
                f"  {label:<34} replayed={answer.replayed} executions started={started}"
                f"\n  {'':<34} -> {_shipment(answer.output)}"
            )
        run("warehouse silent (heartbeat)", "O-4")
        run("warehouse stalls (timeout)", "O-5")
    shipped = [message["OrderId"] for message in warehouse.received]
    lines.append(
        f"  the warehouse read {len(shipped)} messages: {', '.join(shipped)}; "
        f"{reserve.invocations} reservations made, {len(deployed.items('Reservations'))} kept"
    )
    for message in deployed.published():
        lines.append(f"  notification: {message['Message']}")
    return lines


#: The demo of each stack (by name prefix) and its Wait scale. A caller of the API waits real
#: seconds: polls of 2 s outlast the 0.5 s work. The order flow's warehouse heartbeat (10
#: minutes) is missed within 0.3 s, its timeout (2 hours) within 3.6 s.
_DEMOS: Final = (
    ("OrderFlow", _demo_orders, 0.0005),
    ("PaymentsApi", _demo_api, 1.0),
    ("Transaction", _demo_transactions, 0.01),
    ("", _demo_workflow, 0.01),
)


def main(cloud_assembly: str = "cdk.out") -> None:
    """Deploy every example stack in ``cloud_assembly`` into the local engine and run the demo."""
    directory = Path(cloud_assembly)
    stacks = sorted(
        p.name.removesuffix(".template.json") for p in directory.glob("*.template.json")
    )
    if not stacks:
        raise SystemExit(f"No templates in {directory}: run `cdk synth` (make synth) first.")
    with LocalEngine() as engine:
        for name in stacks:
            deployed = engine.deploy_cloud_assembly(directory, name)
            demo, engine.wait_scale = next(
                (demo, scale) for prefix, demo, scale in _DEMOS if name.startswith(prefix)
            )
            print(f"\n{name}")
            print("\n".join(demo(deployed)))
            for table in deployed.tables:
                print(f"  items in {table}: {len(deployed.items(table))}")


if __name__ == "__main__":
    main(*sys.argv[1:])
