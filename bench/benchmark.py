"""Benchmark: states, calls and cost per execution; synth time; local engine throughput; MiniStack.

Run with ``make bench``. Prints one table and writes it to ``bench/results.json``. Times are
medians of repeated runs on a shared machine: read the ratios, not the absolute seconds.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk.assertions import Template

from idempotent_workflows import IdempotencyKey
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.examples import IdempotentWorkflowStack, add_example_stacks
from idempotent_workflows.testing import (
    DeployedStack,
    Execution,
    LocalEngine,
    state_machine_definitions,
    work_branch,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
#: Step Functions Standard price per state transition (USD 0.025 per 1,000).
PRICE_PER_TRANSITION = 0.025 / 1000
SYNTH_RUNS = 5
DUPLICATE_RUNS = 60
CONCURRENT_ROUNDS = 3


def _row(
    workflow: str, scenario: str, execution: Execution, *, work: set[str], per_poll: bool = False
) -> dict:
    """One table row: what an execution entered and called, and its Standard price."""
    states = execution.states_entered
    if per_poll:  # one poll of a waiter: wait, read again, decide
        polls = states.count(S.WAIT_FOR_LOCK)
        count = len(states[states.index(S.WAIT_FOR_LOCK) : len(states) - 1]) / polls
        calls = (execution.dynamodb_calls.count("getItem") - 1) / polls
        lambdas, machinery = 0, count
    else:
        count, calls = len(states), len(execution.dynamodb_calls)
        lambdas = execution.lambda_invocations
        machinery = len([state for state in states if state not in work])
    # Standard bills every retry of a state as one more transition.
    retries = sum(e["type"] == "TaskScheduled" for e in execution.history) - sum(
        e["type"] == "TaskStateEntered" for e in execution.history
    )
    transitions = count + (0 if per_poll else retries)
    standard = workflow.endswith("Standard")
    return {
        "workflow": workflow,
        "scenario": scenario,
        "states": count,
        "machinery_states": machinery,
        "lambda_invocations": lambdas,
        "dynamodb_calls": calls,
        "retries": 0 if per_poll else retries,
        "usd_per_million": (
            round(transitions * PRICE_PER_TRANSITION * 1e6, 2) if standard else None
        ),
    }


def _throttled_once(engine: LocalEngine, deployed: DeployedStack) -> str:
    """A test case whose first AcquireLock try is throttled (then retried)."""
    (machine,) = deployed.state_machines
    throttle = {"Error": "DynamoDB.ProvisionedThroughputExceededException", "Cause": "bench"}
    engine.load_mock_config(
        {
            "StateMachines": {machine: {"TestCases": {"ThrottledOnce": {S.ACQUIRE_LOCK: "T"}}}},
            "MockedResponses": {"T": {"0": {"Throw": throttle}}},
        }
    )
    return "ThrottledOnce"


def _scenarios(
    engine: LocalEngine, name: str, deployed: DeployedStack, work_states: set[str]
) -> list[dict]:
    if name.startswith("Transaction"):
        work = deployed.function("Purchase")
        first_input = {"TransactionType": "PURCHASE", "TransactionId": "b-1", "Amount": 5}
        poll_input = {"TransactionType": "PURCHASE", "TransactionId": "b-2", "Amount": 5}
        failing_input = {"TransactionType": "GIFT", "TransactionId": "b-3", "Amount": 5}
    else:
        work = deployed.function("RandomFailure")
        work.environment["FAILURE_RATE"] = "0"
        first_input, poll_input, failing_input = (
            {"o": n, "idempotencyKeyJmespath": "o"} for n in (1, 2, 3)
        )
    row = functools.partial(_row, name, work=work_states)
    rows = [row("first run", deployed.run(first_input))]
    rows.append(row("duplicate", deployed.run(first_input)))
    throttled = _throttled_once(engine, deployed)
    rows.append(row("duplicate, lock throttled", deployed.run(first_input, test_case=throttled)))
    work.latency = 0.3
    started = [deployed.start(poll_input) for _ in range(2)]
    waiter = max((e.wait() for e in started), key=lambda e: e.states_entered.count(S.WAIT_FOR_LOCK))
    work.latency = 0.0
    rows.append(row("one poll of a waiter", waiter, per_poll=True))
    if not name.startswith("Transaction"):
        work.environment["FAILURE_RATE"] = "1"
    rows.append(row("failure", deployed.run(failing_input)))
    return rows


def cost_table() -> list[dict]:
    """States, Lambda invocations and DynamoDB calls of each scenario, from the histories."""
    app = App(context=json.loads((ROOT / "cdk.json").read_text())["context"])
    stacks = add_example_stacks(app)
    # The classic demo computes its key with a Lambda function from a JMESPath in the input:
    # the same workflow in that mode shows what the Lambda-free key saves.
    stacks.append(
        IdempotentWorkflowStack(
            app, "JmespathKeyStandard", key=IdempotencyKey.from_input_jmespath()
        )
    )
    rows = []
    with LocalEngine(wait_scale=0.01) as engine:
        for stack in stacks:
            (definition,) = state_machine_definitions(Template.from_stack(stack).to_json()).values()
            work_states = set(work_branch(definition)["States"])
            rows += _scenarios(engine, stack.stack_name, engine.deploy(stack), work_states)
    return rows


def _synth_seconds(app_command: str, outdir: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["cdk", "synth", "--quiet", "--app", app_command, "--output", outdir],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def synth_times() -> dict[str, Any]:
    """Median synth time of app.py and of a bare app with as many empty stacks, alternated."""
    python = sys.executable
    ours, bare = [], []
    with tempfile.TemporaryDirectory() as outdir:
        for _ in range(SYNTH_RUNS):
            ours.append(_synth_seconds(f"{python} app.py", outdir + "/ours"))
            bare.append(_synth_seconds(f"{python} bench/bare_app.py", outdir + "/bare"))
    app_median, bare_median = statistics.median(ours), statistics.median(bare)
    return {
        "runs": SYNTH_RUNS,
        "app_median_s": round(app_median, 2),
        "bare_median_s": round(bare_median, 2),
        "ratio": round(app_median / bare_median, 2),
    }


def _median_ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 2)


def _direct_pair(engine: LocalEngine, table: str, key: str) -> None:
    """The duplicate's two DynamoDB calls, made directly: a refused lock, a consistent read."""
    with contextlib.suppress(engine.dynamodb.exceptions.ConditionalCheckFailedException):
        engine.dynamodb.update_item(
            TableName=table,
            Key={"id": {"S": key}},
            UpdateExpression="SET #s = :s",
            ConditionExpression="attribute_not_exists(id)",
            ExpressionAttributeNames={"#s": "executionstatus"},
            ExpressionAttributeValues={":s": {"S": "IN_PROGRESS"}},
        )
    engine.dynamodb.get_item(TableName=table, Key={"id": {"S": key}}, ConsistentRead=True)


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def throughput() -> dict[str, Any]:
    """A duplicate execution against its two direct DynamoDB calls; executions per second.

    Duplicates and direct pairs alternate in one engine, so that both see the same load;
    each figure is a median.
    """
    app = App(context=json.loads((ROOT / "cdk.json").read_text())["context"])
    stack = add_example_stacks(app)[0]
    results: dict[str, Any] = {}
    with LocalEngine() as engine:
        deployed = engine.deploy(stack)
        deployed.function("RandomFailure").environment["FAILURE_RATE"] = "0"
        deployed.run({"o": "dup"})
        (record,) = deployed.items()

        def duplicate() -> None:
            assert deployed.run({"o": "dup"}).status == "SUCCEEDED"

        def direct() -> None:
            _direct_pair(engine, deployed.table(), record["id"])

        duplicates, pairs = [], []
        for _ in range(DUPLICATE_RUNS):
            duplicates.append(_timed(duplicate))
            pairs.append(_timed(direct))
        results["duplicate_ms"] = _median_ms(duplicates)
        results["direct_pair_ms"] = _median_ms(pairs)
        results["ratio"] = round(statistics.median(duplicates) / statistics.median(pairs), 2)
        results["sequential_per_s"] = round(1 / statistics.median(duplicates), 1)
        rates = []
        for _ in range(CONCURRENT_ROUNDS):
            with ThreadPoolExecutor(8) as pool:
                seconds = _timed(lambda: list(pool.map(lambda _: duplicate(), range(40))))
            rates.append(40 / seconds)
        results["concurrent_8_per_s"] = round(statistics.median(rates), 1)
    return results


def ministack_times() -> dict[str, Any]:
    """MiniStack start, bootstrap and deploy; a duplicate there and on the local engine.

    The deploy is ``cdk deploy --all`` of the four example stacks; the duplicate times are
    medians of 9, on the same stacks and input in both.
    """
    from idempotent_workflows.testing.ministack import MiniStack, run_execution

    purchase = {"TransactionType": "PURCHASE", "TransactionId": "bench", "Amount": 5}
    outdir = tempfile.mkdtemp(prefix="bench-cdk-out-")
    app = App(context=json.loads((ROOT / "cdk.json").read_text())["context"], outdir=outdir)
    stacks = {stack.stack_name: stack for stack in add_example_stacks(app)}
    app.synth()
    results: dict[str, Any] = {}
    with MiniStack() as local:
        local.deploy(outdir)
        sfn = local.client("stepfunctions")
        for name in ("TransactionStandard", "TransactionExpress"):
            (arn,) = local.state_machines(name).values()
            express = name.endswith("Express")
            run_execution(sfn, arn, purchase, express=express)
            seconds = [run_execution(sfn, arn, purchase, express=express).seconds for _ in range(9)]
            results[f"ministack_duplicate_{name}_ms"] = round(statistics.median(seconds) * 1000)
        results["ministack_start_s"] = round(local.timings["start"], 1)
        results["bootstrap_s"] = round(local.timings["bootstrap"], 1)
        results["deploy_all_s"] = round(local.timings[f"deploy {Path(outdir).resolve()}"], 1)
    with LocalEngine(wait_scale=0.01) as engine:
        for name in ("TransactionStandard", "TransactionExpress"):
            deployed = engine.deploy(stacks[name])
            deployed.run(purchase)
            seconds = []
            for _ in range(9):
                started = time.perf_counter()
                assert deployed.run(purchase).status == "SUCCEEDED"
                seconds.append(time.perf_counter() - started)
            results[f"engine_duplicate_{name}_ms"] = round(statistics.median(seconds) * 1000)
    shutil.rmtree(outdir, ignore_errors=True)
    return results


def suite_seconds() -> float:
    """Wall time of the whole test suite, run once."""
    started = time.perf_counter()
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if suite.returncode != 0:
        raise SystemExit(f"The test suite failed; no time to report:\n{suite.stdout[-3000:]}")
    return round(time.perf_counter() - started, 1)


def main() -> None:
    """Run every measurement, print the table and write bench/results.json."""
    rows = cost_table()
    synth = synth_times()
    engine = throughput()
    deployed = ministack_times()
    suite = suite_seconds()
    header = (
        f"{'workflow':<28}{'scenario':<27}{'states':>7}{'retries':>8}{'machinery':>11}"
        f"{'lambda':>8}{'dynamodb':>10}{'USD/1M (Standard)':>19}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        cost = "-" if row["usd_per_million"] is None else f"{row['usd_per_million']:.2f}"
        print(
            f"{row['workflow']:<28}{row['scenario']:<27}{row['states']:>7g}{row['retries']:>8g}"
            f"{row['machinery_states']:>11g}{row['lambda_invocations']:>8g}"
            f"{row['dynamodb_calls']:>10g}{cost:>19}"
        )
    print(
        f"\nsynth (median of {synth['runs']}, alternated): app.py {synth['app_median_s']} s,"
        f" bare app with the same number of empty stacks {synth['bare_median_s']} s,"
        f" ratio {synth['ratio']}"
    )
    print(
        f"local engine, duplicate execution {engine['duplicate_ms']} ms, its two DynamoDB calls"
        f" made directly {engine['direct_pair_ms']} ms, ratio {engine['ratio']} (medians)"
    )
    print(
        f"local engine, duplicate executions per second: sequential {engine['sequential_per_s']},"
        f" 8 concurrent callers {engine['concurrent_8_per_s']}"
    )
    print(
        f"MiniStack: start {deployed['ministack_start_s']} s, cdk bootstrap"
        f" {deployed['bootstrap_s']} s, cdk deploy --all (4 stacks) {deployed['deploy_all_s']} s"
    )
    for name in ("TransactionStandard", "TransactionExpress"):
        print(
            f"duplicate of {name} (median of 9): MiniStack"
            f" {deployed[f'ministack_duplicate_{name}_ms']} ms, local engine"
            f" {deployed[f'engine_duplicate_{name}_ms']} ms"
        )
    print(f"whole test suite: {suite} s")
    RESULTS.write_text(
        json.dumps(
            {
                "executions": rows,
                "synth": synth,
                "engine": engine,
                "ministack": deployed,
                "suite_seconds": suite,
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
