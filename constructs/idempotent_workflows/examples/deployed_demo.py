"""The demo, deployed for real: ``cdk deploy`` of the example app into MiniStack, then boto3.

Usage: ``python -m idempotent_workflows.examples.deployed_demo [cdk.out]`` after ``cdk synth``.
Starts MiniStack on 127.0.0.1 (an environment of its own: no AWS account or credentials are
used, whatever the shell has), bootstraps, deploys every stack of the cloud assembly with the
CDK CLI, runs each deployed state machine (a first run, a duplicate, 10 concurrent duplicates,
a failure and its retry, the transaction routes; the order flow only deploys) and stops
MiniStack. Needs the
``[ministack]`` extra and the CDK CLI on ``PATH``.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .. import ProtocolState as S
from ..testing import Execution
from ..testing.ministack import MiniStack, port_is_free, run_execution

CONCURRENT = 10


def _line(label: str, execution: Execution) -> str:
    result = execution.output if execution.status == "SUCCEEDED" else execution.error
    text = json.dumps(result)
    text = text if len(text) <= 70 else text[:67] + "..."
    entered = " > ".join(execution.states_entered) or "(Express: history not read)"
    milliseconds = (execution.seconds or 0.0) * 1000  # run_execution measures every one
    return (
        f"  {label:<26} {execution.status:<9} {milliseconds:6.0f} ms  {entered}"
        f"\n  {'':<26} -> {text}"
    )


class _Deployed:
    """One deployed stack: its state machine, its functions, and how to run it."""

    def __init__(self, local: MiniStack, stack: str) -> None:
        self.local, self.stack = local, stack
        self.sfn = local.client("stepfunctions")
        self.lambda_ = local.client("lambda")
        (self.arn,) = local.state_machines(stack).values()
        self.express = (
            self.sfn.describe_state_machine(stateMachineArn=self.arn)["type"] == "EXPRESS"
        )
        self.functions = local.functions(stack)

    def run(self, execution_input: Any) -> Execution:
        return run_execution(self.sfn, self.arn, execution_input, express=self.express)

    def set_environment(self, function_prefix: str, **variables: str) -> None:
        (name,) = (
            n for logical, n in self.functions.items() if logical.startswith(function_prefix)
        )
        self.lambda_.update_function_configuration(
            FunctionName=name, Environment={"Variables": variables}
        )


def _concurrent(deployed: _Deployed, execution_input: Any) -> list[Execution]:
    with ThreadPoolExecutor(CONCURRENT) as pool:
        return list(pool.map(lambda _: deployed.run(execution_input), range(CONCURRENT)))


def _result(output: Any) -> tuple[Any, bool | None]:
    """An output without its replay flag, and the flag (``None`` when it has none).

    The API's workflow answers ``{"replayed": ..., "resultJson": ...}``: one execution ran the
    work (``false``), the others replayed it (``true``), and the results must be one.
    MiniStack wraps the output in a one-element array (see the note printed above).
    """
    value = output[0] if isinstance(output, list) and len(output) == 1 else output
    if isinstance(value, dict) and isinstance(value.get("replayed"), bool):
        return {k: v for k, v in value.items() if k != "replayed"}, value["replayed"]
    return output, None


def _summary(executions: list[Execution]) -> str:
    results = [_result(e.output) for e in executions]
    outputs = {json.dumps(result, sort_keys=True) for result, _ in results}
    statuses = sorted({e.status for e in executions})
    text = (
        f"{len(executions)} concurrent duplicates: status {'/'.join(statuses)},"
        f" distinct outputs {len(outputs)}"
    )
    flags = [flag for _, flag in results if flag is not None]
    if flags:
        text += f" (the replay flag aside), replayed {sum(flags)} of {len(flags)}"
    if executions[0].states_entered:
        ran = sum(S.RUN_WORK in e.states_entered for e in executions)
        polls = sum(e.states_entered.count(S.WAIT_FOR_LOCK) for e in executions)
        text += f", work ran {ran}x, polls {polls}"
    errors = Counter(f"{e.error}: {e.cause}" for e in executions if e.status != "SUCCEEDED")
    for error, count in errors.items():
        text += f"\n    {count} failed with {error[:150]}"
    return f"  {text}"


def _demo_workflow(deployed: _Deployed) -> list[str]:
    lines: list[str] = []
    deployed.set_environment("RandomFailure", FAILURE_RATE="0")
    lines.append(_line("first run", deployed.run({"orderId": "A-1"})))
    lines.append(_line("duplicate", deployed.run({"orderId": "A-1"})))
    lines.append(_summary(_concurrent(deployed, {"orderId": "A-2"})))
    deployed.set_environment("RandomFailure", FAILURE_RATE="1")
    lines.append(_line("step fails", deployed.run({"orderId": "A-3"})))
    deployed.set_environment("RandomFailure", FAILURE_RATE="0")
    lines.append(_line("same input, retried", deployed.run({"orderId": "A-3"})))
    return lines


def _demo_transactions(deployed: _Deployed) -> list[str]:
    purchase = {"TransactionType": "PURCHASE", "TransactionId": "T-1", "Amount": 25}
    return [
        _line("PURCHASE", deployed.run(purchase)),
        _line(
            "REFUND",
            deployed.run({**purchase, "TransactionType": "REFUND", "TransactionId": "T-2"}),
        ),
        _line("PURCHASE repeated", deployed.run(purchase)),
        _summary(_concurrent(deployed, {**purchase, "TransactionId": "T-4"})),
        _line(
            "unknown type",
            deployed.run({**purchase, "TransactionType": "GIFT", "TransactionId": "T-3"}),
        ),
    ]


def _demo_payments(deployed: _Deployed) -> list[str]:
    """The payments API's workflow, started as its API would start it (StartSyncExecution).

    MiniStack's API Gateway has no Step Functions integration; ``make run``'s in-process demo
    sends the HTTP requests.
    """
    payment = {
        "caller": "arn:aws:iam::000000000000:user/demo  ",  # as the API scopes the key
        "idempotencyKey": "pay-1",
        "body": {"amount": 25, "currency": "EUR"},
    }
    return [
        _line("first request", deployed.run(payment)),
        _line("retry, same key", deployed.run(payment)),
        _line("same key, other body", deployed.run({**payment, "body": {"amount": 99}})),
        _summary(_concurrent(deployed, {**payment, "idempotencyKey": "pay-2"})),
    ]


def _demo_orders(deployed: _Deployed) -> list[str]:
    """The order flow is deployed here but runs on the in-process engine (below)."""
    return [
        "  deployed (queue, dead-letter queue, topic, table, functions); not run here: MiniStack"
        " ignores\n  the JSONata Output of the ChargePayment Parallel state, so the next state"
        " finds no Items\n  (docs/ministack.md). The in-process demo below runs the orders."
    ]


def _stack_names(directory: Path) -> list[str]:
    manifest = json.loads((directory / "manifest.json").read_text())
    return sorted(
        name
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    )


def main(cloud_assembly: str = "cdk.out", *, out: Callable[[str], None] = print) -> None:
    """Deploy ``cloud_assembly`` into a fresh MiniStack with the CDK CLI and run the demo."""
    directory = Path(cloud_assembly)
    if not (directory / "manifest.json").is_file():
        raise SystemExit(f"No cloud assembly in {directory}: run `cdk synth` (make synth) first.")
    stacks = _stack_names(directory)
    # A terminated demo still stops MiniStack: SIGTERM unwinds through the with block.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with MiniStack() as local:
        out(
            f"MiniStack on {local.endpoint} (pid {local.pid}), up in {local.timings['start']:.1f} s"
        )
        outputs = local.deploy(directory)
        out(
            f"cdk bootstrap {local.timings['bootstrap']:.1f} s, cdk deploy --all"
            f" ({len(stacks)} stacks) {local.timings[f'deploy {directory.resolve()}']:.1f} s"
        )
        out(
            "(MiniStack ignores a Parallel state's JSONata Output: each result below is the"
            " one-element array [output]\n where Step Functions returns the output itself;"
            " see docs/ministack.md)"
        )
        for stack in stacks:
            deployed = _Deployed(local, stack)
            kind = "Express, StartSyncExecution" if deployed.express else "Standard, StartExecution"
            out(f"\n{stack} ({kind})")
            out(f"  outputs: {outputs.get(stack) or 'none declared'}")
            out(f"  state machine: {deployed.arn}")
            demo = (
                _demo_orders
                if stack.startswith("OrderFlow")
                else _demo_payments
                if stack.startswith("PaymentsApi")
                else _demo_transactions
                if stack.startswith("Transaction")
                else _demo_workflow
            )
            for line in demo(deployed):
                out(line)
        pid, port = local.pid, local.port
    time.sleep(0.1)
    out(f"\nMiniStack stopped (pid {pid}); port {port} free: {port_is_free(port)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
