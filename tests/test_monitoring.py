"""add_monitoring: five alarms and a dashboard per workflow, as synthesized; cdk-nag clean."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from conftest import CONTEXT, new_app

from idempotent_workflows import IdempotentQueue, IdempotentWorkflow, acknowledge_findings
from idempotent_workflows.examples import IdempotentWorkflowStack, PaymentsApiStack

ALARMS = ["DuplicateRate", "LockLost", "ResultNotStored", "LockWaitTimeouts", "ExecutionsFailed"]


def alarms(stack: Stack) -> dict[str, dict]:
    """Each alarm's properties, by the id add_monitoring gave it."""
    found = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    return {
        next(name for name in ALARMS if logical_id.startswith(f"WorkflowMonitoring{name}")): r[
            "Properties"
        ]
        for logical_id, r in found.items()
    }


def dashboard_body(stack: Stack) -> dict:
    """The synthesized dashboard body, its tokens written as placeholders."""
    (dashboard,) = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))


def encrypted_topic(stack: Stack) -> sns.Topic:
    """The alarm topic a user brings (cdk-nag's SNS rules: TLS only, encrypted)."""
    key = kms.Alias.from_alias_name(stack, "SnsKey", "alias/aws/sns")
    return sns.Topic(stack, "Alarms", enforce_ssl=True, master_key=key)


@pytest.fixture(scope="module")
def monitored() -> Stack:
    stack = IdempotentWorkflowStack(new_app(), "Monitored")
    stack.monitoring = stack.workflow.add_monitoring(topic=encrypted_topic(stack))
    return stack


def test_five_alarms_follow_the_error_alarm_conventions(monitored):
    found = alarms(monitored)
    assert sorted(found) == sorted(ALARMS)
    (topic,) = Template.from_stack(monitored).find_resources("AWS::SNS::Topic")
    for name, alarm in found.items():
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic}]
        assert alarm["AlarmDescription"].endswith(f"(README 'Operating it', runbook {name})")
        assert "AlarmName" not in alarm  # no physical names
    for name in ("LockLost", "ResultNotStored", "LockWaitTimeouts"):
        assert (found[name]["Threshold"], found[name]["EvaluationPeriods"]) == (0, 1)
        assert found[name]["MetricName"] == name and found[name]["Statistic"] == "Sum"
        assert found[name]["Namespace"] == "IdempotentWorkflows/Monitored/Workflow/Protocol"
        assert found[name]["Period"] == 300
    failed = found["ExecutionsFailed"]
    assert (failed["Namespace"], failed["MetricName"], failed["Threshold"]) == (
        "AWS/States",
        "ExecutionsFailed",
        0,
    )


def test_the_duplicate_rate_alarm_divides_duplicates_by_executions_started(monitored):
    rate = alarms(monitored)["DuplicateRate"]
    assert (rate["Threshold"], rate["EvaluationPeriods"], rate["DatapointsToAlarm"]) == (1, 3, 3)
    expression, *inputs = rate["Metrics"]
    assert expression["Expression"] == "IF(started > 0, 100 * FILL(duplicates, 0) / started, 0)"
    by_id = {m["Id"]: m["MetricStat"] for m in inputs}
    assert by_id["duplicates"]["Metric"]["MetricName"] == "Duplicates"
    assert by_id["started"]["Metric"]["Namespace"] == "AWS/States"
    assert by_id["started"]["Metric"]["MetricName"] == "ExecutionsStarted"
    assert by_id["started"]["Metric"]["Dimensions"][0]["Name"] == "StateMachineArn"
    assert {s["Period"] for s in by_id.values()} == {300}
    assert {s["Stat"] for s in by_id.values()} == {"Sum"}


def test_the_dashboard_shows_alarms_executions_protocol_and_throttles(monitored):
    widgets = dashboard_body(monitored)["widgets"]
    titles = [w["properties"].get("title") for w in widgets]
    assert titles == [
        None,
        "Alarms",
        "Executions",
        "Work runs and duplicates",
        "Lock waits",
        "Machinery errors",
        "Execution time",
        "Table throttles",
    ]
    assert all(w["width"] in (8, 24) for w in widgets)
    assert len(widgets[1]["properties"]["alarms"]) == 5
    text = json.dumps(widgets)
    for metric in (
        "ExecutionsStarted",
        "ExecutionsTimedOut",
        "WorkRuns",
        "LockWaits",
        "InvalidKeys",
    ):
        assert f'"{metric}"' in text
    assert "FILL(reads, 0) + FILL(writes, 0)" in text and "WriteThrottleEvents" in text
    assert '"p99"' in text


def test_thresholds_a_shared_dashboard_and_the_api_and_queue():
    stack = Stack(new_app(), "Shared")
    shared = cloudwatch.Dashboard(stack, "Everything")
    first = IdempotentWorkflow(stack, "First", work=sfn.Pass.jsonata(stack, "A"))
    queue = IdempotentQueue(stack, "Orders", work=sfn.Pass.jsonata(stack, "B"))
    one = first.add_monitoring(dashboard=shared, duplicate_rate_percent=5, failed_executions=3)
    two = queue.add_monitoring(dashboard=shared)
    assert one.dashboard is two.dashboard is shared
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.resource_count_is("AWS::CloudWatch::Alarm", 10)
    assert one.alarms["DuplicateRate"].node.default_child.threshold == 5
    assert one.alarms["ExecutionsFailed"].node.default_child.threshold == 3
    assert "AlarmActions" not in json.dumps(template.to_json())  # no topic, no action
    api = PaymentsApiStack(new_app(), "Api").api
    assert set(api.add_monitoring().alarms) == set(ALARMS)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"duplicate_rate_percent": 100}, "duplicate_rate_percent must be a number from 0 to 100"),
        ({"duplicate_rate_percent": True}, "duplicate_rate_percent must be a number"),
        ({"failed_executions": -1}, "failed_executions must be at least 0"),
        ({"topic": "arn:aws:sns:us-east-1:1:t"}, "topic"),
        ({"dashboard": "mine"}, "dashboard"),
    ],
)
def test_wrong_props_are_refused_naming_the_method(props, message):
    stack = Stack(new_app(), "Wrong")
    workflow = IdempotentWorkflow(stack, "Flow", work=sfn.Pass.jsonata(stack, "Work"))
    with pytest.raises((TypeError, ValueError), match=message) as raised:
        workflow.add_monitoring(**props)
    assert "IdempotentWorkflow.add_monitoring" in str(raised.value)


def test_a_workflow_that_does_not_log_every_state_cannot_be_monitored():
    stack = Stack(new_app(), "Quiet")
    workflow = IdempotentWorkflow(
        stack,
        "Flow",
        work=sfn.Pass.jsonata(stack, "Work"),
        logs=sfn.LogOptions(destination=logs.LogGroup(stack, "Logs"), level=sfn.LogLevel.ERROR),
    )
    with pytest.raises(ValueError, match="Duplicates is counted from events logged at level ALL"):
        workflow.add_monitoring()


def test_cdk_nag_finds_nothing_new_in_the_monitoring(tmp_path):
    """The alarms, the dashboard and the filters add no finding (the topic is the user's)."""
    app = App(context=CONTEXT, outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks(), ServerlessChecks())
    stack = IdempotentWorkflowStack(app, "Monitored")
    stack.workflow.add_monitoring(topic=encrypted_topic(stack))
    acknowledge_findings(app)
    app.synth()  # fails with ValidationFailed on any finding that is not acknowledged
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert all(not plugin["violations"] for plugin in report["pluginReports"])
