"""The operator's view of a key, on the engine: show a record, release a stuck lock safely.

Release is one conditional write: it succeeds only while the record is the one shown, so a
release racing a holder that has just stored its result is refused and the result survives.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import only_record, set_record

from idempotent_workflows import RecordStatus
from idempotent_workflows.runtime import (
    IdempotencyRecords,
    KeyRecord,
    NotStuck,
    RecordChanged,
    WorkflowDescription,
)
from idempotent_workflows.runtime.cli import main

ORDER = {"order": 1}


@pytest.fixture
def demo(example_stacks, local_engine):
    deployed = local_engine.deploy(example_stacks["IdempotentWorkflowStandard"])
    deployed.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    return deployed


@pytest.fixture
def records(demo, local_engine) -> IdempotencyRecords:
    """The demo's records, found from its deployed definition as an operator finds them."""
    (workflow,) = WorkflowDescription.describe(demo.state_machine(), local_engine.sfn)
    return IdempotencyRecords.of(workflow, local_engine.dynamodb)


def wait_until_held(demo, execution) -> None:
    deadline = time.time() + 10
    while not any(i.get("execution") == execution.arn for i in demo.items()):
        assert time.time() < deadline, "the holder never took the lock"
        time.sleep(0.01)


def test_show_reads_the_record_an_input_maps_to(demo, records):
    execution = demo.run(ORDER)
    shown = records.show(records.record_id(ORDER))
    stored = only_record(demo)
    assert shown == KeyRecord(
        key=stored["id"],
        status="SUCCEEDED",
        holder=execution.arn,
        lease_expiry=None,
        attempts=1,
        result_bytes=len(stored["executionresult"].encode()),
        expiry=stored["ttl"],
        item=shown.item,
    )
    assert records.show(records.record_id({"order": "never sent"})) is None
    text = shown.describe(now=stored["ttl"] - 60).splitlines()
    assert text[1] == "status      SUCCEEDED" and text[4] == "attempts    1"
    assert text[6].endswith("(in 60 s)")


def test_attempts_count_each_time_the_lock_was_taken(demo, records):
    demo.function("RandomFailure").environment["FAILURE_RATE"] = "1"
    assert demo.run(ORDER).status == "FAILED"
    demo.function("RandomFailure").environment["FAILURE_RATE"] = "0"
    assert demo.run(ORDER).status == "SUCCEEDED"
    assert demo.run(ORDER).status == "SUCCEEDED"  # a duplicate takes no lock
    assert records.show(records.record_id(ORDER)).attempts == 2
    assert demo.function("RandomFailure").invocations == 2


def test_a_record_that_holds_no_lock_is_not_released(demo, records):
    demo.run(ORDER)
    shown = records.show(records.record_id(ORDER))
    with pytest.raises(NotStuck, match="is SUCCEEDED, not IN_PROGRESS"):
        records.release(shown, reason="mistake")
    assert only_record(demo)["executionstatus"] == RecordStatus.SUCCEEDED


def test_a_stuck_lock_is_released_and_the_next_request_runs_the_work(demo, records, local_engine):
    demo.run(ORDER)
    lease = int(time.time()) + 900
    set_record(
        local_engine, demo, executionstatus="IN_PROGRESS", execution="arn:dead", leaseexpiry=lease
    )
    shown = records.show(records.record_id(ORDER))
    assert (shown.status, shown.holder, shown.lease_expiry) == ("IN_PROGRESS", "arn:dead", lease)
    released = records.release(shown, reason="INC-42: holder crashed")
    record = only_record(demo)
    assert record["executionstatus"] == RecordStatus.FAILED and "leaseexpiry" not in record
    error = json.loads(record["executionresult"])
    assert error["Error"] == "Idempotency.Released"
    assert error["Cause"].endswith(": INC-42: holder crashed")
    assert (released.status, released.attempts, released.expiry) == ("FAILED", 1, record["ttl"])
    again = demo.run(ORDER)
    assert again.status == "SUCCEEDED"
    assert demo.function("RandomFailure").invocations == 2
    assert records.show(records.record_id(ORDER)).attempts == 2


def test_a_release_racing_a_holder_that_stored_its_result_deletes_nothing(demo, records):
    demo.function("RandomFailure").latency = 0.3
    holder = demo.start(ORDER)
    wait_until_held(demo, holder)
    shown = records.show(records.record_id(ORDER))
    assert (shown.status, shown.holder) == ("IN_PROGRESS", holder.arn)
    assert holder.wait().status == "SUCCEEDED"  # it stores its result after it was shown
    with pytest.raises(RecordChanged, match=f"now SUCCEEDED, held by {holder.arn}"):
        records.release(shown, reason="looked stuck")
    record = only_record(demo)
    assert record["executionstatus"] == RecordStatus.SUCCEEDED
    assert json.loads(record["executionresult"]) == holder.output
    assert demo.run(ORDER).output == holder.output  # duplicates still get the result
    assert demo.function("RandomFailure").invocations == 1


def test_a_live_holder_released_by_mistake_overwrites_nothing(demo, records):
    demo.function("RandomFailure").latency = 0.3
    holder = demo.start(ORDER)
    wait_until_held(demo, holder)
    records.release(records.show(records.record_id(ORDER)), reason="wrong key")
    assert holder.wait().error == "Idempotency.LockLost"
    record = only_record(demo)
    assert record["executionstatus"] == RecordStatus.FAILED
    assert json.loads(record["executionresult"])["Error"] == "Idempotency.Released"


def cli(*arguments: str) -> int:
    return main([*arguments, "--region", "us-east-1"])


def test_the_command_shows_and_releases(demo, local_engine, capsys):
    arn = demo.state_machine()
    demo.run(ORDER)
    assert cli("show", "--state-machine", arn, "--input", json.dumps(ORDER), "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["status"], shown["attempts"]) == ("SUCCEEDED", 1)
    table = demo.table()
    release = ["release", "--table", table, "--key", shown["key"], "--reason", "r"]
    assert cli(*release) == 4  # not stuck
    assert "holds no lock" in capsys.readouterr().err
    set_record(
        local_engine,
        demo,
        executionstatus="IN_PROGRESS",
        execution="arn:dead",
        leaseexpiry=int(time.time()) + 900,
    )
    assert cli(*release, "--holder", "arn:other") == 3
    assert "held by arn:dead, not arn:other" in capsys.readouterr().err
    assert only_record(demo)["executionstatus"] == RecordStatus.IN_PROGRESS
    assert cli(*release, "--holder", "arn:dead") == 0
    assert "status      FAILED" in capsys.readouterr().out
    assert cli("show", "--table", table, "--key", "nothing#here") == 1


def test_the_command_refuses_what_it_cannot_do(demo, capsys):
    with pytest.raises(SystemExit) as exited:
        cli("show", "--table", demo.table(), "--input", "{}")
    assert exited.value.code == 2
    assert "--input needs --state-machine" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli("show", "--state-machine", demo.state_machine(), "--protocol", "1", "--key", "k")
    assert (
        "holds 1 idempotency protocol(s): pass --protocol 0 to 0, got 1" in capsys.readouterr().err
    )


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "idempotent-workflows"
    answer = subprocess.run(
        [script, "release", "--help"], capture_output=True, text=True, check=True
    )
    assert "--reason" in answer.stdout and "--holder" in answer.stdout
