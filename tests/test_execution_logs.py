"""The engine's CloudWatch Logs room: the filter-pattern evaluator and the execution log.

The evaluator is checked against the examples of the CloudWatch Logs User Guide ("Filter
pattern syntax", JSON section) and what ``aws_logs.FilterPattern`` writes; the execution log
against the shape of executions recorded on AWS (a Fail state at every level, with and without
execution data), on executions run by the engine.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from conftest import jsonata_machine, new_app

from idempotent_workflows.testing.logs.filter_patterns import FilterPattern, FilterPatternError

# The guide's example event for JSON patterns.
TRAIL = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)
# The guide's example object for compound expressions.
USERS = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [
            {"id": 2, "email": "John.Doe@example.com"},
            {"id": 3, "email": "Jane.Doe@example.com"},
        ],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ('{ $.eventType = "UpdateTrail" }', TRAIL, True),
        ("{ $.sourceIPAddress != 123.123.* }", TRAIL, True),
        ('{ $.arrayKey[0] = "value" }', TRAIL, True),
        ("{ $.objectList[1].id = 2 }", TRAIL, True),
        ("{ $.objectList[1].id > 1.5 }", TRAIL, True),
        ("{ $.objectList[1].id < 2 }", TRAIL, False),
        ("{ $.SomeObject IS NULL }", TRAIL, True),
        ("{ $.ThisFlag IS TRUE }", TRAIL, True),
        ("{ $.ThisFlag IS FALSE }", TRAIL, False),
        ("{ $.SomeOtherObject NOT EXISTS }", TRAIL, True),
        ("{ $.eventType NOT EXISTS }", TRAIL, False),
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', USERS, True),
        # && binds tighter than ||: the guide's two precedence examples.
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch"'
            ' && $.actions[2] = "nonmatch" }',
            USERS,
            True,
        ),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch")'
            ' && $.actions[2] = "nonmatch" }',
            USERS,
            False,
        ),
        (
            '{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }',
            USERS,
            False,
        ),
        # The rules the guide states around its examples.
        ('{ $.objectList = "x" }', TRAIL, False),  # an array matches nothing
        ('{ $.missing != "x" }', TRAIL, False),  # an absent field matches nothing
        ('{ $.eventType = "Update*" }', TRAIL, True),
        ('{ $.eventType = "*Trail" }', TRAIL, True),
        ('{ $.eventType = "update*" }', TRAIL, False),  # case sensitive
        ('{ $.eventType = "Update" }', TRAIL, False),  # exact, not a substring
        ('{ $.eventType = "Update.rail" }', TRAIL, False),  # no regular expression
        ('{ $.eventType = "UpdateTrail" }', "not json", False),
        ('{ $.eventType = "UpdateTrail" }', '["UpdateTrail"]', False),
    ],
)
def test_the_guides_json_patterns(pattern, message, expected):
    assert FilterPattern(pattern).matches(message) is expected


def test_what_the_cdk_builders_write_is_read_as_written():
    f = logs.FilterPattern
    pattern = f.all(
        f.string_value("$.type", "=", "PassStateEntered"),
        f.string_value("$.details.name", "=", 'Charge: Return"Stored'),
    ).log_pattern_string
    event = {"type": "PassStateEntered", "details": {"name": 'Charge: Return"Stored'}}
    assert FilterPattern(pattern).matches(json.dumps(event))
    assert not FilterPattern(pattern).matches(json.dumps({**event, "type": "PassStateExited"}))
    either = f.any(f.string_value("$.a", "=", "x"), f.number_value("$.n", ">=", 3))
    assert FilterPattern(either.log_pattern_string).matches('{"a": "y", "n": 3}')
    assert not FilterPattern(either.log_pattern_string).matches('{"a": "y", "n": 2}')
    assert FilterPattern(f.exists("$.details.error").log_pattern_string).matches(
        '{"details": {"error": "E"}}'
    )
    assert FilterPattern(f.boolean_value("$.b", False).log_pattern_string).matches('{"b": false}')
    assert FilterPattern(f.is_null("$.b").log_pattern_string).matches('{"b": null}')
    assert FilterPattern(f.not_exists("$.b").log_pattern_string).matches('{"c": 1}')


@pytest.mark.parametrize(
    "pattern", ["ERROR", '"a b"', "[w1, w2]", "{ $.m = %bind.*% }", "{ $.a = }", "{ $.a IS 1 }"]
)
def test_any_other_pattern_is_refused_not_guessed(pattern):
    with pytest.raises(FilterPatternError):
        FilterPattern(pattern)


@pytest.fixture(scope="module")
def failing_machine():
    """A Pass then a Fail, as the AWS recordings of the log levels run it."""
    stack = Stack(new_app(), "Recorded")
    failure = sfn.Fail.jsonata(stack, "FailState", error="SomeFailure", cause="This state failed")
    chain = sfn.Pass.jsonata(stack, "State_1", outputs={"x": 1}).next(failure)
    jsonata_machine(stack, "Machine", chain)
    return stack


def test_each_level_logs_the_events_the_recordings_show(failing_machine, local_engine):
    execution = local_engine.deploy(failing_machine).run({"in": "put"})
    at = {
        level: [json.loads(m) for m in execution.log_events(level=level)]
        for level in ("ALL", "ERROR", "FATAL", "OFF")
    }
    assert [e["type"] for e in at["ALL"]] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]
    assert [e["type"] for e in at["ERROR"]] == ["FailStateEntered", "ExecutionFailed"]
    assert [e["type"] for e in at["FATAL"]] == ["ExecutionFailed"]
    assert at["OFF"] == []
    fail_entered, failed = at["ERROR"]
    assert fail_entered["details"] == {"name": "FailState"}
    assert failed["details"] == {"error": "SomeFailure", "cause": "This state failed"}
    assert failed["previous_event_id"] == fail_entered["id"] == "4"
    assert failed["execution_arn"] == execution.arn and failed["redrive_count"] == "0"
    assert set(failed) == {
        "id",
        "type",
        "details",
        "previous_event_id",
        "event_timestamp",
        "execution_arn",
        "redrive_count",
    }
    assert failed["event_timestamp"].isdigit() and len(failed["event_timestamp"]) == 13


def test_execution_data_is_logged_only_when_asked(failing_machine, local_engine):
    execution = local_engine.deploy(failing_machine).run({"in": "put"})
    without = [json.loads(m) for m in execution.log_events()]
    with_data = [json.loads(m) for m in execution.log_events(include_execution_data=True)]
    assert without[0]["details"] == {"roleArn": with_data[0]["details"]["roleArn"]}
    assert json.loads(with_data[0]["details"]["input"]) == {"in": "put"}
    assert json.loads(with_data[2]["details"]["output"]) == {"x": 1}
    assert "output" not in without[2]["details"]
    assert without[2]["details"] == {"name": "State_1"}
