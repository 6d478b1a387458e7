"""Benchmark: states, calls and cost per execution; synth time; local engine throughput; MiniStack.

Run with ``make bench``. Prints one table and writes it to ``bench/results.json``. Times are
medians of repeated runs on a shared machine: read the ratios, not the absolute seconds.

``--quick`` (run by ``make test``, through tests/test_bench.py) takes every measurement through
the same code with one or a few repetitions and a small test file in place of the whole suite,
prints the table and writes nothing: it shows that every figure can still be computed, and
says nothing about speed. Either mode fails when a figure is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from idempotent_workflows import IdempotencyKey
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.examples import (
    IdempotentWorkflowStack,
    OrderFlowStack,
    TransactionStack,
    add_example_stacks,
)
from idempotent_workflows.examples.warehouse import Answer, WarehouseSimulator
from idempotent_workflows.runtime import WorkflowClient
from idempotent_workflows.testing import (
    DeployedStack,
    Execution,
    LocalEngine,
    state_machine_definitions,
    work_branch,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
#: List prices in us-east-1 (the AWS pricing pages of Step Functions, DynamoDB on-demand,
#: Lambda and SQS), in USD. Step Functions Standard: per state transition (0.025 per 1,000).
PRICE_PER_TRANSITION = 0.025 / 1000
#: Step Functions Express: per request, and per GB-second of duration, billed in 64 MB and
#: 100 ms steps (the cheapest execution: 64 MB for 100 ms).
EXPRESS_PER_REQUEST = 1.00 / 1e6
EXPRESS_MINIMUM_DURATION = 0.064 * 0.1 * 0.00001667
#: DynamoDB on-demand: per write request unit (an UpdateItem of up to 1 KB) and per read
#: request unit (a strongly consistent GetItem of up to 4 KB).
DYNAMODB_PER_WRITE = 0.625 / 1e6
DYNAMODB_PER_READ = 0.125 / 1e6
#: Lambda per request (duration not counted: the example handlers' run times are not AWS's).
LAMBDA_PER_REQUEST = 0.20 / 1e6
#: SQS per request (the order flow's one warehouse message).
SQS_PER_REQUEST = 0.40 / 1e6
#: A scenario answered by execution name (``WorkflowClient``): no execution, no state.
CLIENT = "through the client"
#: Step Functions' execution logs are vended logs: USD 0.50 per GB ingested into CloudWatch
#: Logs (us-east-1, the first 10 TB a month; counted here as 1e9 bytes, an upper bound).
PRICE_PER_LOGGED_BYTE = 0.50 / 1e9
#: What CloudWatch Logs counts per event besides its UTF-8 message (PutLogEvents sizing).
LOG_EVENT_OVERHEAD_BYTES = 26
#: The logging configurations priced: (level, include_execution_data). The library's default,
#: which every metric needs, is ALL without execution data.
LOG_CONFIGURATIONS = {
    "ALL": ("ALL", False),
    "ALL+data": ("ALL", True),
    "ERROR": ("ERROR", False),
    "FATAL": ("FATAL", False),
}
#: What monitoring a workflow costs a month whatever it runs (us-east-1 list prices): its
#: metric filters nothing; the custom metrics that publish every hour (WorkRuns, Duplicates,
#: LockWaits; the error metrics only in hours they count), the five alarms (the duplicate
#: rate's expression reads two metrics) and one dashboard (free within an account's first 3).
MONTHLY_MONITORING_USD = {
    "custom metrics (3 x 0.30)": 3 * 0.30,
    "alarms (6 alarm metrics x 0.10)": 6 * 0.10,
    "dashboard (3.00; 0 when shared or within the free 3)": 3.00,
}


@dataclass(frozen=True)
class Repetitions:
    """How often each measurement is repeated, and which tests the suite timing runs."""

    synth: int
    duplicates: int
    concurrent_rounds: int
    concurrent_executions: int
    deployed_duplicates: int
    suite: tuple[str, ...]
    #: The stacks of the cost table (``None``: all of them).
    cost_stacks: tuple[str, ...] | None = None
    #: Deploy into MiniStack only the stacks whose duplicates are timed, not ``--all``.
    deploy_measured_only: bool = False


#: The numbers README's Performance section shows.
FULL = Repetitions(
    synth=5,
    duplicates=60,
    concurrent_rounds=3,
    concurrent_executions=40,
    deployed_duplicates=9,
    suite=(),
)
#: Every code path once, for CI: no figure is meaningful as a speed. The cost table keeps a
#: stack of each kind (the demo's workflow with its JMESPath key, the router as Express: both
#: branches of the scenarios, both prices); MiniStack gets the two stacks it times; the suite
#: timing runs one small test file.
QUICK = Repetitions(
    synth=1,
    duplicates=3,
    concurrent_rounds=1,
    concurrent_executions=8,
    deployed_duplicates=1,
    suite=("tests/test_lambdas.py", "-n", "0"),
    cost_stacks=("JmespathKeyStandard", "TransactionExpress"),
    deploy_measured_only=True,
)


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
    standard = not workflow.endswith("Express")
    writes = len([call for call in execution.dynamodb_calls if call != "getItem"])
    messages = 0 if per_poll else execution.states_entered.count("WaitForWarehouse")
    all_in = (
        (transitions * PRICE_PER_TRANSITION if standard else 0.0)
        + (0.0 if standard or per_poll else EXPRESS_PER_REQUEST + EXPRESS_MINIMUM_DURATION)
        + (0 if per_poll else writes) * DYNAMODB_PER_WRITE
        + (calls - (0 if per_poll else writes)) * DYNAMODB_PER_READ
        + lambdas * LAMBDA_PER_REQUEST
        + messages * SQS_PER_REQUEST
    )
    logged = _logged_usd_per_million(execution, per_poll=per_poll)
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
        "usd_per_million_all_in": round(all_in * 1e6, 2),
        "log_usd_per_million": logged,
    }


def _client_duplicate(
    workflow: str,
    deployed: DeployedStack,
    client: WorkflowClient,
    execution_input: Any,
    work: set[str],
) -> dict:
    """The row of a duplicate through ``WorkflowClient``: its first call, then the measured one.

    The duplicate's cost is what it left in the engine: the execution it started (Express:
    through the protocol), or none (Standard: answered by name, no state, no call).
    """
    client.run(execution_input, timeout=120)
    before = {execution.arn for execution in deployed.executions()}
    client.run(execution_input, timeout=120)
    started = [e.wait() for e in deployed.executions() if e.arn not in before]
    if not started:
        return _row_of_nothing(workflow, f"duplicate {CLIENT}")
    (execution,) = started
    return _row(workflow, f"duplicate {CLIENT}", execution, work=work)


def _row_of_nothing(workflow: str, scenario: str) -> dict:
    """The row of a call that started no execution."""
    standard = not workflow.endswith("Express")
    return {
        "workflow": workflow,
        "scenario": scenario,
        "states": 0,
        "machinery_states": 0,
        "lambda_invocations": 0,
        "dynamodb_calls": 0,
        "retries": 0,
        "usd_per_million": 0.0 if standard else None,
        "usd_per_million_all_in": 0.0,
        "log_usd_per_million": dict.fromkeys(LOG_CONFIGURATIONS, 0.0),
    }


def _poll_event_ids(execution: Execution) -> set[str]:
    """The history ids of a waiter's polls: each from its WaitForLock to the decision after."""
    ids, polling = set(), False
    for event in execution.history:
        if event["type"] == "WaitStateEntered":
            polling = True
        if polling:
            ids.add(str(event["id"]))
        if polling and event["type"] == "ChoiceStateExited":
            polling = False
    return ids


def _logged_usd_per_million(execution: Execution, *, per_poll: bool) -> dict[str, float]:
    """What logging the execution (or one of its polls) costs per million, per configuration."""
    polls = execution.states_entered.count(S.WAIT_FOR_LOCK) if per_poll else 1
    ids = _poll_event_ids(execution) if per_poll else None
    costs = {}
    for name, (level, data) in LOG_CONFIGURATIONS.items():
        messages = execution.log_events(level=level, include_execution_data=data)
        if ids is not None:
            messages = [m for m in messages if json.loads(m)["id"] in ids]
        logged = sum(len(m.encode()) + LOG_EVENT_OVERHEAD_BYTES for m in messages) / polls
        costs[name] = round(logged * PRICE_PER_LOGGED_BYTE * 1e6, 2)
    return costs


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
    engine: LocalEngine, stack: Stack, deployed: DeployedStack, work_states: set[str]
) -> list[dict]:
    name = stack.stack_name
    transaction = isinstance(stack, TransactionStack)
    if transaction:
        work = deployed.function("Purchase")
        first_input = {"TransactionType": "PURCHASE", "TransactionId": "b-1", "Amount": 5}
        poll_input = {"TransactionType": "PURCHASE", "TransactionId": "b-2", "Amount": 5}
        failing_input = {"TransactionType": "GIFT", "TransactionId": "b-3", "Amount": 5}
        client_input = {"TransactionType": "PURCHASE", "TransactionId": "b-4", "Amount": 5}
    else:
        work = deployed.function("RandomFailure")
        work.environment["FAILURE_RATE"] = "0"
        first_input, poll_input, failing_input, client_input = (
            {"o": n, "idempotencyKeyJmespath": "o"} for n in (1, 2, 3, 4)
        )
    row = functools.partial(_row, name, work=work_states)
    rows = [row("first run", deployed.run(first_input))]
    rows.append(row("duplicate", deployed.run(first_input)))
    client = WorkflowClient(deployed.state_machine(), client=engine.sfn, poll_seconds=0.02)
    rows.append(_client_duplicate(name, deployed, client, client_input, work_states))
    throttled = _throttled_once(engine, deployed)
    rows.append(row("duplicate, lock throttled", deployed.run(first_input, test_case=throttled)))
    work.latency = 0.3
    started = [deployed.start(poll_input) for _ in range(2)]
    waiter = max((e.wait() for e in started), key=lambda e: e.states_entered.count(S.WAIT_FOR_LOCK))
    work.latency = 0.0
    rows.append(row("one poll of a waiter", waiter, per_poll=True))
    if not transaction:
        work.environment["FAILURE_RATE"] = "1"
    rows.append(row("failure", deployed.run(failing_input)))
    return rows


def order_rows(engine: LocalEngine) -> list[dict]:
    """The order flow's rows: a first order, its duplicate each way, a run again after a failure.

    Two line items; the warehouse simulated (it rejects the failing order, then ships it).
    """
    stack = OrderFlowStack(_app(), "OrderFlow")
    (definition,) = state_machine_definitions(Template.from_stack(stack).to_json()).values()
    row = functools.partial(_row, "OrderFlow", work=set(work_branch(definition)["States"]))
    deployed = engine.deploy(stack)
    items = [{"Sku": "A-1", "Quantity": 2, "Price": 10}, {"Sku": "B-2", "Quantity": 1, "Price": 5}]

    def order(order_id: str) -> dict[str, Any]:
        return {"OrderId": order_id, "Currency": "EUR", "Items": items}

    queue = deployed.queue("WarehouseQueue")
    with WarehouseSimulator(engine.sqs, engine.sfn, queue, {"o-4": Answer.REJECT}) as warehouse:
        rows = [row("order, first run", deployed.run(order("o-1")))]
        rows.append(row("order, duplicate", deployed.run(order("o-1"))))
        client = WorkflowClient(deployed.state_machine(), client=engine.sfn, poll_seconds=0.02)
        rows.append(_client_duplicate("OrderFlow", deployed, client, order("o-2"), set()))
        rows[-1]["scenario"] = f"order, duplicate {CLIENT}"
        deployed.function("Charge").latency = 0.3
        started = [deployed.start(order("o-3")) for _ in range(2)]
        waiter = max(
            (e.wait() for e in started), key=lambda e: e.states_entered.count(S.WAIT_FOR_LOCK)
        )
        deployed.function("Charge").latency = 0.0
        rows.append(row("order, one poll of a waiter", waiter, per_poll=True))
        deployed.run(order("o-4"))  # rejected by the warehouse
        warehouse.answers = {}
        rows.append(row("order, run again after failure", deployed.run(order("o-4"))))
    return rows


def _app(**kwargs: Any) -> App:
    """An App with the context of cdk.json, as app.py gets it from the CDK CLI."""
    return App(context=json.loads((ROOT / "cdk.json").read_text())["context"], **kwargs)


def cost_table(names: tuple[str, ...] | None = None) -> list[dict]:
    """States, Lambda invocations and DynamoDB calls of each scenario, from the histories.

    The two example workflows, as Standard and as Express (the API has scenarios of its own,
    not measured here), and the demo keyed by a JMESPath (only the stacks ``names`` when
    given); then the order flow.
    """
    app = _app()
    stacks: list[Stack] = [
        stack
        for stack in add_example_stacks(app)
        if isinstance(stack, (IdempotentWorkflowStack, TransactionStack))
    ]
    # The classic demo computes its key with a Lambda function from a JMESPath in the input:
    # the same workflow in that mode shows what the Lambda-free key saves.
    stacks.append(
        IdempotentWorkflowStack(
            app, "JmespathKeyStandard", key=IdempotencyKey.from_input_jmespath()
        )
    )
    if names is not None:
        stacks = [stack for stack in stacks if stack.stack_name in names]
        if len(stacks) != len(names):
            found = [stack.stack_name for stack in stacks]
            raise LookupError(f"Cost table stacks {names} asked for, found only {found}")
    rows = []
    with LocalEngine(wait_scale=0.01) as engine:
        for stack in stacks:
            (definition,) = state_machine_definitions(Template.from_stack(stack).to_json()).values()
            work_states = set(work_branch(definition)["States"])
            rows += _scenarios(engine, stack, engine.deploy(stack), work_states)
        rows += order_rows(engine)
    return rows


def _synth_seconds(app_command: str, outdir: str, *context: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["cdk", "synth", "--quiet", "--app", app_command, "--output", outdir, *context],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _stack_count(outdir: str) -> int:
    """How many stacks a synthesized cloud assembly holds."""
    manifest = json.loads((Path(outdir) / "manifest.json").read_text())
    return sum(
        artifact["type"] == "aws:cloudformation:stack"
        for artifact in manifest["artifacts"].values()
    )


def synth_times(runs: int) -> dict[str, Any]:
    """Median synth time of app.py and of a bare app with as many empty stacks, alternated."""
    python = sys.executable
    ours, bare = [], []
    with tempfile.TemporaryDirectory() as outdir:
        for _ in range(runs):
            ours.append(_synth_seconds(f"{python} app.py", outdir + "/ours"))
            stacks = _stack_count(outdir + "/ours")
            bare.append(
                _synth_seconds(
                    f"{python} bench/bare_app.py", outdir + "/bare", "-c", f"stacks={stacks}"
                )
            )
    app_median, bare_median = statistics.median(ours), statistics.median(bare)
    return {
        "runs": runs,
        "stacks": stacks,
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


def throughput(repetitions: Repetitions) -> dict[str, Any]:
    """A duplicate execution against its two direct DynamoDB calls; executions per second.

    Duplicates and direct pairs alternate in one engine, so that both see the same load;
    each figure is a median.
    """
    stack = IdempotentWorkflowStack(_app(), "IdempotentWorkflowStandard")
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
        for _ in range(repetitions.duplicates):
            duplicates.append(_timed(duplicate))
            pairs.append(_timed(direct))
        results["duplicate_ms"] = _median_ms(duplicates)
        results["direct_pair_ms"] = _median_ms(pairs)
        results["ratio"] = round(statistics.median(duplicates) / statistics.median(pairs), 2)
        results["sequential_per_s"] = round(1 / statistics.median(duplicates), 1)
        rates = []
        executions = repetitions.concurrent_executions
        for _ in range(repetitions.concurrent_rounds):
            with ThreadPoolExecutor(8) as pool:
                seconds = _timed(lambda: list(pool.map(lambda _: duplicate(), range(executions))))
            rates.append(executions / seconds)
        results["concurrent_8_per_s"] = round(statistics.median(rates), 1)
    return results


def ministack_times(runs: int, *, measured_only: bool = False) -> dict[str, Any]:
    """MiniStack start, bootstrap and deploy; a duplicate there and on the local engine.

    The deploy is ``cdk deploy --all`` of the example stacks (with ``measured_only``, of the
    two it times); the duplicate times are medians of ``runs``, on the same stacks and input
    in both.
    """
    from idempotent_workflows.testing.ministack import MiniStack, run_execution

    purchase = {"TransactionType": "PURCHASE", "TransactionId": "bench", "Amount": 5}
    outdir = tempfile.mkdtemp(prefix="bench-cdk-out-")
    app = _app(outdir=outdir)
    stacks = {stack.stack_name: stack for stack in add_example_stacks(app)}
    app.synth()
    measured = ("TransactionStandard", "TransactionExpress")
    to_deploy = measured if measured_only else ()  # (): --all
    results: dict[str, Any] = {"runs": runs, "stacks": len(to_deploy or stacks)}
    with MiniStack() as local:
        local.deploy(outdir, stacks=to_deploy)
        sfn = local.client("stepfunctions")
        for name in measured:
            (arn,) = local.state_machines(name).values()
            express = name.endswith("Express")
            run_execution(sfn, arn, purchase, express=express)
            seconds = [
                run_execution(sfn, arn, purchase, express=express).seconds for _ in range(runs)
            ]
            results[f"ministack_duplicate_{name}_ms"] = round(statistics.median(seconds) * 1000)
        results["ministack_start_s"] = round(local.timings["start"], 1)
        results["bootstrap_s"] = round(local.timings["bootstrap"], 1)
        results["deploy_all_s"] = round(local.timings[f"deploy {Path(outdir).resolve()}"], 1)
    with LocalEngine(wait_scale=0.01) as engine:
        for name in measured:
            deployed = engine.deploy(stacks[name])
            deployed.run(purchase)
            seconds = []
            for _ in range(runs):
                started = time.perf_counter()
                assert deployed.run(purchase).status == "SUCCEEDED"
                seconds.append(time.perf_counter() - started)
            results[f"engine_duplicate_{name}_ms"] = round(statistics.median(seconds) * 1000)
    shutil.rmtree(outdir, ignore_errors=True)
    return results


def suite_seconds(arguments: tuple[str, ...]) -> float:
    """Wall time of the test suite (the whole of it without ``arguments``), run once."""
    started = time.perf_counter()
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if suite.returncode != 0:
        raise SystemExit(f"The test suite failed; no time to report:\n{suite.stdout[-3000:]}")
    return round(time.perf_counter() - started, 1)


def missing_figures(results: dict[str, Any]) -> list[str]:
    """The figures that could not be computed: absent, not a number, or not above zero.

    Counts of retries and of Lambda invocations may be zero, and an Express row has no
    Standard price; every other figure is a positive number.
    """
    may_be_zero = {"retries", "lambda_invocations"}
    #: A duplicate answered by execution name started nothing: every count and price is 0.
    nothing_started = {"states", "machinery_states", "dynamodb_calls", "usd_per_million"}
    #: What may cost nothing to log: the quieter levels write only errors.
    quiet_levels = {"ERROR", "FATAL"}
    missing = []

    def check(where: str, value: Any, *, zero: bool = False) -> None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            missing.append(f"{where} = {value!r}")

    if not results["executions"]:
        missing.append("executions: no row")
    for row in results["executions"]:
        where = f"{row['workflow']} / {row['scenario']}"
        for name, value in row.items():
            if name in ("workflow", "scenario"):
                continue
            if name == "usd_per_million" and row["workflow"].endswith("Express"):
                if value is not None:
                    missing.append(f"{where} / {name}: an Express row has no Standard price")
                continue
            by_name = row["scenario"].endswith(CLIENT) and name in nothing_started | {
                "usd_per_million_all_in",
                "log_usd_per_million",
            }
            if name == "log_usd_per_million":
                for level in LOG_CONFIGURATIONS:
                    check(
                        f"{where} / log {level}",
                        value.get(level),
                        zero=level in quiet_levels or by_name,
                    )
                continue
            check(f"{where} / {name}", value, zero=name in may_be_zero or by_name)
    for section in ("synth", "engine", "ministack"):
        for name, value in results[section].items():
            check(f"{section} / {name}", value)
    check("suite_seconds", results["suite_seconds"])
    return missing


def print_table(results: dict[str, Any]) -> None:
    """The table README's Performance section shows."""
    synth, engine, deployed = results["synth"], results["engine"], results["ministack"]
    header = (
        f"{'workflow':<28}{'scenario':<36}{'states':>7}{'retries':>8}{'machinery':>11}"
        f"{'lambda':>8}{'dynamodb':>10}{'USD/1M (Standard)':>19}{'USD/1M all-in':>15}"
    )
    print(header)
    print("-" * len(header))
    for row in results["executions"]:
        cost = "-" if row["usd_per_million"] is None else f"{row['usd_per_million']:.2f}"
        print(
            f"{row['workflow']:<28}{row['scenario']:<36}{row['states']:>7g}{row['retries']:>8g}"
            f"{row['machinery_states']:>11g}{row['lambda_invocations']:>8g}"
            f"{row['dynamodb_calls']:>10g}{cost:>19}{row['usd_per_million_all_in']:>15.2f}"
        )
    levels = "".join(f"{name:>10}" for name in LOG_CONFIGURATIONS)
    header = f"{'monitoring: execution logs, USD/1M':<55}{levels}"
    print(f"\n{header}\n{'-' * len(header)}")
    for row in results["executions"]:
        logged = "".join(f"{row['log_usd_per_million'][n]:>10.2f}" for n in LOG_CONFIGURATIONS)
        print(f"{row['workflow']:<28}{row['scenario']:<27}{logged}")
    fixed = ", ".join(f"{name} {usd:.2f}" for name, usd in MONTHLY_MONITORING_USD.items())
    print(
        f"monitoring per workflow and month, whatever it runs: USD"
        f" {sum(MONTHLY_MONITORING_USD.values()):.2f} ({fixed}; metric filters 0)"
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
        f" {deployed['bootstrap_s']} s, cdk deploy ({deployed['stacks']} stacks)"
        f" {deployed['deploy_all_s']} s"
    )
    for name in ("TransactionStandard", "TransactionExpress"):
        print(
            f"duplicate of {name} (median of {deployed['runs']}): MiniStack"
            f" {deployed[f'ministack_duplicate_{name}_ms']} ms, local engine"
            f" {deployed[f'engine_duplicate_{name}_ms']} ms"
        )
    print(f"whole test suite: {results['suite_seconds']} s")


def main(arguments: list[str] | None = None) -> None:
    """Run every measurement, print the table; in full mode, write bench/results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every measurement once or a few times, nothing written: checks that each figure"
        " can be computed (make test runs it)",
    )
    quick = parser.parse_args(arguments).quick
    repetitions = QUICK if quick else FULL
    results = {
        "executions": cost_table(repetitions.cost_stacks),
        "synth": synth_times(repetitions.synth),
        "engine": throughput(repetitions),
        "ministack": ministack_times(
            repetitions.deployed_duplicates, measured_only=repetitions.deploy_measured_only
        ),
        "suite_seconds": suite_seconds(repetitions.suite),
        "cpus": os.cpu_count(),
    }
    print_table(results)
    missing = missing_figures(results)
    if missing:
        raise SystemExit("Figures that could not be computed:\n" + "\n".join(missing))
    if quick:
        print("\nquick mode: every figure computed; nothing written (numbers: make bench)")
        return
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
