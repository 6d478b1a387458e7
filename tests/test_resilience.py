"""The protocol under DynamoDB faults and contention, on the engine, Standard and Express.

Faults are injected with the engine's mock configuration (Step Functions Local's shape): a
test case names, per state, how many of each visit's tries answer with a throttle.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import only_record, state_events

from idempotent_workflows import ProtocolState as S
from idempotent_workflows import RecordStatus, RetryPolicy

TYPES = ["Standard", "Express"]
THROTTLED = "DynamoDB.ProvisionedThroughputExceededException"
#: Tries per call: the first and the default policy's retries.
TRIES = 1 + RetryPolicy().max_attempts
DEMO_OUTPUT = {
    **{f"step{n}": {"result": f"Output of step {n}"} for n in range(1, 5)},
    "randomFailureFunc": "All good",
}


def mock_config(machine: str, cases: dict[str, dict[str, str]], responses: dict) -> dict:
    return {
        "StateMachines": {machine: {"TestCases": cases}},
        "MockedResponses": responses,
    }


def throttles(count: int) -> dict:
    """A mocked response whose first ``count`` tries of each visit are throttled."""
    throw = {"Throw": {"Error": THROTTLED, "Cause": "Throughput exceeds the table's capacity"}}
    return {f"0-{count - 1}" if count > 1 else "0": throw}


WORK_FAILS = {"0": {"Throw": {"Error": "RandomFailure", "Cause": "injected work failure"}}}


@pytest.fixture(params=TYPES)
def demo(request, example_stacks, local_engine):
    deployed = local_engine.deploy(example_stacks[f"IdempotentWorkflow{request.param}"])
    deployed.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    return deployed


def machine_id(deployed) -> str:
    (logical_id,) = deployed.state_machines
    return logical_id


def load_cases(engine, deployed, cases: dict[str, dict[str, int]], work_fails=()) -> None:
    """Test cases by name: state -> throttled tries per visit; ``work_fails`` adds a Throw."""
    responses = {f"Throttled{n}": throttles(n) for n in range(1, 8)}
    responses["WorkFails"] = WORK_FAILS
    named = {
        case: {state: f"Throttled{count}" for state, count in states.items() if count}
        for case, states in cases.items()
    }
    for case in work_fails:
        named[case]["RandomFailure"] = "WorkFails"
    engine.load_mock_config(mock_config(machine_id(deployed), named, responses))


def throttled_tries(execution, state: str) -> int:
    return sum(e["error"] == THROTTLED for e in state_events(execution, state, "TaskFailed"))


def work_runs(deployed) -> int:
    return deployed.function("RandomFailure").invocations


# -- each call throttled twice: the outcome of no fault ------------------------------------


def test_each_machinery_call_throttled_twice_changes_nothing(demo, local_engine):
    load_cases(
        local_engine,
        demo,
        {
            "AcquireAndStore": {S.ACQUIRE_LOCK: 2, S.STORE_RESULT: 2},
            "Read": {S.READ_RECORD: 2},
            "RecordFailure": {S.RECORD_FAILURE: 2},
        },
        work_fails=["RecordFailure"],
    )
    first = demo.run({"order": 1}, test_case="AcquireAndStore")
    assert first.status == "SUCCEEDED" and first.output == DEMO_OUTPUT
    assert throttled_tries(first, S.ACQUIRE_LOCK) == 2
    assert throttled_tries(first, S.STORE_RESULT) == 2
    duplicate = demo.run({"order": 1}, test_case="Read")
    assert duplicate.output == DEMO_OUTPUT
    assert throttled_tries(duplicate, S.READ_RECORD) == 2
    assert duplicate.states_entered[-1] == S.RETURN_STORED_RESULT
    assert work_runs(demo) == 1

    failed = demo.run({"order": 2}, test_case="RecordFailure")
    assert (failed.status, failed.error) == ("FAILED", "RandomFailure")
    assert throttled_tries(failed, S.RECORD_FAILURE) == 2
    (record,) = [item for item in demo.items() if item["execution"] == failed.arn]
    assert record["executionstatus"] == RecordStatus.FAILED
    assert "leaseexpiry" not in record  # nothing left locked


# -- throttled beyond the retry budget: the named outcomes ---------------------------------


def test_acquire_throttled_beyond_the_budget_fails_and_writes_nothing(demo, local_engine):
    load_cases(local_engine, demo, {"Exhausted": {S.ACQUIRE_LOCK: TRIES}})
    execution = demo.run({"order": 3}, test_case="Exhausted")
    assert (execution.status, execution.error) == ("FAILED", THROTTLED)
    assert throttled_tries(execution, S.ACQUIRE_LOCK) == TRIES
    assert demo.items() == [] and work_runs(demo) == 0
    assert demo.run({"order": 3}).output == DEMO_OUTPUT  # the next request goes through


def test_read_throttled_beyond_the_budget_fails_the_duplicate_only(demo, local_engine):
    load_cases(local_engine, demo, {"Exhausted": {S.READ_RECORD: TRIES}})
    demo.run({"order": 4})
    before = demo.items()
    duplicate = demo.run({"order": 4}, test_case="Exhausted")
    assert (duplicate.status, duplicate.error) == ("FAILED", THROTTLED)
    assert demo.items() == before and work_runs(demo) == 1
    assert demo.run({"order": 4}).output == DEMO_OUTPUT


def test_store_throttled_beyond_the_budget_records_failure_for_a_retry(demo, local_engine):
    load_cases(local_engine, demo, {"Exhausted": {S.STORE_RESULT: TRIES}})
    execution = demo.run({"order": 5}, test_case="Exhausted")
    assert (execution.status, execution.error) == ("FAILED", "Idempotency.ResultNotStored")
    assert THROTTLED in execution.cause
    (record,) = demo.items()
    assert record["executionstatus"] == RecordStatus.FAILED
    assert demo.run({"order": 5}).output == DEMO_OUTPUT  # runs the work again
    assert work_runs(demo) == 2


def test_record_failure_throttled_beyond_the_budget_holds_the_lock_until_the_lease(
    demo, local_engine
):
    load_cases(
        local_engine, demo, {"Exhausted": {S.RECORD_FAILURE: TRIES}}, work_fails=["Exhausted"]
    )
    execution = demo.run({"order": 6}, test_case="Exhausted")
    assert (execution.status, execution.error) == ("FAILED", "RandomFailure")
    (record,) = demo.items()
    assert record["executionstatus"] == RecordStatus.IN_PROGRESS
    assert record["leaseexpiry"] > time.time()  # released only when the lease runs out


# -- contention ----------------------------------------------------------------------------


def test_fifty_concurrent_duplicates_run_the_work_once(demo, local_engine):
    local_engine.wait_scale = 0.05  # a 10 s poll takes 500 ms
    demo.function("RandomFailure").latency = 2.0  # the work outlasts several polls
    executions = [demo.start({"order": "hot"}) for _ in range(50)]
    for execution in executions:
        execution.wait()
    assert [e.status for e in executions] == ["SUCCEEDED"] * 50
    assert all(e.output == DEMO_OUTPUT for e in executions)
    assert work_runs(demo) == 1
    holders = [e for e in executions if S.RUN_WORK in e.states_entered]
    assert len(holders) == 1
    waiters = [e for e in executions if e is not holders[0]]
    assert all(e.states_entered[-1] == S.RETURN_STORED_RESULT for e in waiters)
    # Those started while the work ran waited for it (on a loaded machine the last ones may
    # start after it ended and find the result at once).
    assert sum(S.WAIT_FOR_LOCK in e.states_entered for e in waiters) >= 10
    assert only_record(demo)["execution"] == holders[0].arn


STORM_SEED = int(os.environ.get("STORM_SEED", "20261129"))
STORM_CASES = 24


def storm_cases(rng: random.Random) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Test cases with 0 to 3 throttles (within the budget) on each machinery call."""
    states = (S.ACQUIRE_LOCK, S.READ_RECORD, S.STORE_RESULT, S.RECORD_FAILURE)
    cases = {
        f"Storm{n}": {state: rng.choice([0, 0, 1, 2, 3]) for state in states}
        for n in range(STORM_CASES)
    }
    failing = [case for case in cases if rng.random() < 0.3]
    return cases, failing


def test_a_storm_of_faults_and_duplicates_keeps_every_guarantee(demo, local_engine):
    """200 executions over 20 keys, throttles on every machinery call, failing work.

    Replay a failure with STORM_SEED=<seed printed in the assertion>.
    """
    rng = random.Random(STORM_SEED)
    cases, failing = storm_cases(rng)
    load_cases(local_engine, demo, cases, work_fails=failing)
    local_engine.wait_scale = 0.002
    demo.function("RandomFailure").latency = 0.02
    plan = [(f"key-{rng.randrange(20)}", rng.choice(list(cases))) for _ in range(200)]
    with ThreadPoolExecutor(16) as pool:  # each wait() is bounded (120 s): a hang fails
        executions = list(
            pool.map(lambda p: (p[0], demo.start({"k": p[0]}, test_case=p[1]).wait()), plan)
        )

    outputs = defaultdict(set)
    succeeded_work = Counter()
    for key, execution in executions:
        context = f"seed {STORM_SEED}, {key}, {execution.arn}"
        polls = execution.states_entered.count(S.WAIT_FOR_LOCK)
        assert polls <= (90 if "Standard" in demo.name else 16), context
        if execution.status == "SUCCEEDED":
            outputs[key].add(repr(execution.output))
        else:
            assert execution.error in (
                "RandomFailure",
                "Idempotency.LockWaitTimeout",
            ), f"{context}: {execution.error} {execution.cause}"
        succeeded_work[key] += sum(
            1
            for event in execution.history
            if event["type"] == "TaskSucceeded"
            and event["taskSucceededEventDetails"]["resourceType"] == "lambda"
        )
    records = {item["id"]: item for item in demo.items()}
    now = time.time()
    for record in records.values():
        assert not (
            record["executionstatus"] == RecordStatus.IN_PROGRESS and record["leaseexpiry"] < now
        ), f"seed {STORM_SEED}: {record}"
    for key in {key for key, _ in plan}:
        assert len(outputs[key]) <= 1, f"seed {STORM_SEED}, {key}: {outputs[key]}"
        assert succeeded_work[key] <= 1, f"seed {STORM_SEED}, {key}: work ran twice"
    statuses = Counter(record["executionstatus"] for record in records.values())
    assert statuses[RecordStatus.SUCCEEDED] == sum(1 for n in succeeded_work.values() if n)
    assert set(statuses) <= {RecordStatus.SUCCEEDED, RecordStatus.FAILED}, statuses
