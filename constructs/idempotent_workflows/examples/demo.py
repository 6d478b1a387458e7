"""The main job's demo: run the synthesized example stacks on the local engine and report.

Usage: ``python -m idempotent_workflows.examples.demo [cdk.out]`` after ``cdk synth``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..states import ProtocolState as S
from ..testing import DeployedStack, Execution, LocalEngine


def _line(label: str, execution: Execution, work_runs: int) -> str:
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


def main(cloud_assembly: str = "cdk.out") -> None:
    """Deploy every example stack in ``cloud_assembly`` into the local engine and run the demo."""
    directory = Path(cloud_assembly)
    stacks = sorted(
        p.name.removesuffix(".template.json") for p in directory.glob("*.template.json")
    )
    if not stacks:
        raise SystemExit(f"No templates in {directory}: run `cdk synth` (make synth) first.")
    with LocalEngine(wait_scale=0.01) as engine:
        for name in stacks:
            deployed = engine.deploy_cloud_assembly(directory, name)
            print(f"\n{name}")
            demo = _demo_transactions if name.startswith("Transaction") else _demo_workflow
            print("\n".join(demo(deployed)))
            print(f"  records in the table: {len(deployed.items())}")


if __name__ == "__main__":
    main(*sys.argv[1:])
