"""The protocol's metrics: metric filters synthesized on the execution log, and proof on the
engine that they count what happened.

The proof runs executions on the engine (first runs, duplicates, waits, and each machinery
error, forced by fault injection or by rewriting the record), turns each history into the log
events Step Functions writes for it (``testing.logs``), applies the synthesized filter patterns
to them, and compares each count with one taken elsewhere: the work function's invocations,
the locks taken (the records' ``attempts``), the executions' own outcomes
(DescribeExecution), the polls each execution made.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Annotations, Match, Template
from conftest import jsonata_machine, new_app, set_record, template_json

from idempotent_workflows import (
    IdempotencyKey,
    IdempotencyProtocol,
    IdempotencyTable,
    IdempotentWorkflow,
    execution_logs,
)
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.metrics import PROTOCOL_METRICS
from idempotent_workflows.retry import RetryPolicy

TYPES = {"Standard": sfn.StateMachineType.STANDARD, "Express": sfn.StateMachineType.EXPRESS}
THROTTLED = "DynamoDB.ProvisionedThroughputExceededException"
#: The metrics every workflow has (PayloadMismatches only with payload_fields).
COMMON = [m.name for m in PROTOCOL_METRICS if m.name != "PayloadMismatches"]
#: The metrics whose events each level writes.
AT_LEVEL = {
    "ALL": {m.name for m in PROTOCOL_METRICS},
    "ERROR": {
        "LockWaitTimeouts",
        "LockLost",
        "ResultNotStored",
        "PayloadMismatches",
        "InvalidKeys",
    },
    "FATAL": {"ResultNotStored"},
    "OFF": set(),
}


def filters(stack: Stack) -> dict[str, dict]:
    """The properties of each metric filter, by metric name."""
    found = {}
    for resource in template_json(stack)["Resources"].values():
        if resource["Type"] == "AWS::Logs::MetricFilter":
            (transformation,) = resource["Properties"]["MetricTransformations"]
            found[transformation["MetricName"]] = {**resource["Properties"], **transformation}
    return found


def payload_stack(name: str, workflow_type: sfn.StateMachineType, **props) -> Stack:
    """A workflow keyed on ``id`` that validates ``amount``; its work waits ``sleep`` seconds."""
    stack = Stack(new_app(), name)
    IdempotentWorkflow(
        stack,
        "Flow",
        work=sfn.Wait.jsonata(
            stack, "Sleep", time=sfn.WaitTime.seconds("{% $states.input.sleep %}")
        ),
        key=IdempotencyKey.from_fields("id"),
        payload_fields=["amount"],
        workflow_type=workflow_type,
        **props,
    )
    return stack


def embedded_stack() -> Stack:
    """Two protocols in one machine, prefixed (as CDK requires) after their filters were added."""
    stack = Stack(new_app(), "Embedded")
    table = IdempotencyTable(stack, "Records")
    charge, ship = (
        IdempotencyProtocol(
            stack,
            name,
            work=sfn.Pass.jsonata(stack, f"{name}Work"),
            table=table,
            key=IdempotencyKey.from_fields(field),
        )
        for name, field in (("Charge", "a"), ("Ship", "b"))
    )
    logging = execution_logs(stack)
    charge.add_metric_filters(logging, namespace="Shop/Charge")
    ship.add_metric_filters(logging)
    charge.prefix_states()
    ship.prefix_states()
    jsonata_machine(stack, "Machine", charge.next(ship), logs=logging)
    return stack


# -- synthesized -------------------------------------------------------------------------------


def test_each_workflow_counts_its_protocol_from_its_own_log_group(example_stacks):
    stack = example_stacks["IdempotentWorkflowStandard"]
    found = filters(stack)
    assert sorted(found) == sorted(COMMON)
    (machine,) = (
        Template.from_stack(stack).find_resources("AWS::StepFunctions::StateMachine").values()
    )
    logging = machine["Properties"]["LoggingConfiguration"]
    (destination,) = logging["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    for properties in found.values():
        assert properties["LogGroupName"] == {"Ref": log_group}
        assert (
            properties["MetricNamespace"]
            == "IdempotentWorkflows/IdempotentWorkflowStandard/Workflow/Protocol"
        )
        assert properties["MetricValue"] == "1"
        assert "DefaultValue" not in properties and "Dimensions" not in properties
    assert found["Duplicates"]["FilterPattern"] == (
        '{ ($.type = "PassStateEntered") && ($.details.name = "ReturnStoredResult") }'
    )
    assert found["ResultNotStored"]["FilterPattern"] == (
        '{ ($.type = "ExecutionFailed") && ($.details.error = "Idempotency.ResultNotStored") }'
    )
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False)


@pytest.mark.parametrize("name", ["IdempotentWorkflowExpress", "PaymentsApi", "TransactionExpress"])
def test_express_workflows_log_at_all_without_data_and_are_counted(example_stacks, name):
    stack = example_stacks[name]
    (machine,) = (
        Template.from_stack(stack).find_resources("AWS::StepFunctions::StateMachine").values()
    )
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["Properties"]["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert set(COMMON) <= set(filters(stack))


def test_metric_methods_are_aws_cdk_style_metrics(example_stacks):
    stack = example_stacks["PaymentsApi"]
    api = stack.api
    namespace = "IdempotentWorkflows/Payments"
    for method, name in [
        (api.metric_work_runs, "WorkRuns"),
        (api.metric_duplicates, "Duplicates"),
        (api.metric_lock_waits, "LockWaits"),
        (api.metric_lock_wait_timeouts, "LockWaitTimeouts"),
        (api.metric_lock_lost, "LockLost"),
        (api.metric_result_not_stored, "ResultNotStored"),
        (api.metric_payload_mismatches, "PayloadMismatches"),
        (api.metric_invalid_keys, "InvalidKeys"),
    ]:
        metric = method()
        assert (metric.namespace, metric.metric_name) == (
            filters(stack)[name]["MetricNamespace"],
            name,
        )
        assert metric.statistic == "Sum" and metric.period.to_minutes() == 5
        assert not metric.dimensions
    assert api.metric_duplicates().namespace.startswith(namespace)
    hourly = api.workflow.metric_duplicates(period=Duration.hours(1))
    assert hourly.period.to_hours() == 1


def test_a_payload_workflow_counts_mismatches_and_its_queue_and_api_share_the_methods(
    example_stacks,
):
    stack = payload_stack("Payload", sfn.StateMachineType.STANDARD)
    assert sorted(filters(stack)) == sorted(m.name for m in PROTOCOL_METRICS)
    workflow = example_stacks["IdempotentWorkflowStandard"].workflow
    with pytest.raises(ValueError, match="PayloadMismatches counts the PayloadMismatch state"):
        workflow.metric_payload_mismatches()


@pytest.mark.parametrize("level", [sfn.LogLevel.ERROR, sfn.LogLevel.FATAL])
def test_a_quieter_log_level_keeps_only_the_filters_it_can_feed(level):
    stack = Stack(new_app(), "Quiet")
    workflow = IdempotentWorkflow(
        stack,
        "Flow",
        work=sfn.Pass.jsonata(stack, "Work"),
        logs=sfn.LogOptions(destination=logs.LogGroup(stack, "Logs"), level=level),
    )
    assert set(filters(stack)) == AT_LEVEL[level.value] - {"PayloadMismatches"}
    with pytest.raises(
        ValueError,
        match=f"Duplicates is counted from events logged at level ALL, but the state machine "
        f"logs at {level.value}",
    ):
        workflow.metric_duplicates()
    assert workflow.metric_result_not_stored().metric_name == "ResultNotStored"
    Annotations.from_stack(stack).has_warning(
        "/Quiet/Flow", Match.string_like_regexp("Only LogLevel.ALL logs the states entered")
    )


def test_a_workflow_that_logs_nothing_has_no_metrics_and_says_why():
    stack = Stack(new_app(), "Silent")
    workflow = IdempotentWorkflow(
        stack,
        "Flow",
        work=sfn.Pass.jsonata(stack, "Work"),
        logs=sfn.LogOptions(level=sfn.LogLevel.OFF),
    )
    assert filters(stack) == {} and workflow.metrics is None
    with pytest.raises(ValueError, match="this workflow logs nothing: pass logs=execution_logs"):
        workflow.metric_work_runs()


def test_add_metric_filters_refuses_what_cannot_work():
    stack = Stack(new_app(), "Refusals")
    protocol = IdempotencyProtocol(
        stack, "P", work=sfn.Pass.jsonata(stack, "Work"), table=IdempotencyTable(stack, "T")
    )
    with pytest.raises(ValueError, match="logs has no destination"):
        protocol.add_metric_filters(sfn.LogOptions(level=sfn.LogLevel.ALL))
    logging = execution_logs(stack)
    with pytest.raises(ValueError, match="namespace 'AWS/States' starts with AWS/"):
        protocol.add_metric_filters(logging, namespace="AWS/States")
    with pytest.raises(ValueError, match=r"namespace 'a\(b\)' is not a CloudWatch namespace"):
        protocol.add_metric_filters(logging, namespace="a(b)")
    protocol.add_metric_filters(logging)
    with pytest.raises(ValueError, match="metric filters of Refusals/P exist already"):
        protocol.add_metric_filters(logging)


def test_the_default_namespace_replaces_what_cloudwatch_refuses():
    stack = Stack(new_app(), "Names")
    IdempotentWorkflow(
        stack, "Flow", work=sfn.Pass.jsonata(stack, "Work"), key_namespace="orders (v2)!"
    )
    namespaces = {p["MetricNamespace"] for p in filters(stack).values()}
    assert namespaces == {"IdempotentWorkflows/orders _v2__"}


def test_embedded_prefixed_protocols_are_counted_under_their_final_state_names():
    found = {}
    for resource in template_json(embedded_stack())["Resources"].values():
        if resource["Type"] == "AWS::Logs::MetricFilter":
            (transformation,) = resource["Properties"]["MetricTransformations"]
            found[transformation["MetricNamespace"], transformation["MetricName"]] = resource[
                "Properties"
            ]["FilterPattern"]
    assert found["Shop/Charge", "Duplicates"] == (
        '{ ($.type = "PassStateEntered") && ($.details.name = "Charge: ReturnStoredResult") }'
    )
    assert found["IdempotentWorkflows/Embedded/Ship", "WorkRuns"] == (
        '{ ($.type = "ParallelStateEntered") && ($.details.name = "Ship: RunWork") }'
    )
    assert len(found) == 2 * len(COMMON)


# -- counted ----------------------------------------------------------------------------------


def _held_by(deployed, arn: str) -> bool:
    return any(item.get("execution") == arn for item in deployed.items())


def run_every_path(engine, deployed) -> list:
    """First runs, duplicates, a failure and its retry, waiters, a takeover, and each error."""
    work = deployed.function("RandomFailure")
    work.environment["FAILURE_RATE"] = "0"
    (machine,) = deployed.state_machines
    tries = 1 + RetryPolicy().max_attempts
    engine.load_mock_config(
        {
            "StateMachines": {machine: {"TestCases": {"StoreFails": {S.STORE_RESULT: "T"}}}},
            "MockedResponses": {
                "T": {f"0-{tries - 1}": {"Throw": {"Error": THROTTLED, "Cause": "slow down"}}}
            },
        }
    )
    runs = [deployed.run({"order": n}) for n in range(3)]
    runs += [deployed.run({"order": n}) for n in range(3) for _ in range(2)]
    work.environment["FAILURE_RATE"] = "1"
    runs.append(deployed.run({"order": "f"}))
    work.environment["FAILURE_RATE"] = "0"
    runs.append(deployed.run({"order": "f"}))
    work.latency = 0.05  # two at once: the second polls until the first stored its result
    runs += [execution.wait() for execution in [deployed.start({"order": "w"}) for _ in range(2)]]
    work.latency = 0.0
    taken = deployed.run({"order": "t"})
    set_record(
        engine,
        deployed,
        held_by=taken.arn,
        executionstatus="IN_PROGRESS",
        execution="arn:dead",
        leaseexpiry=int(time.time()) - 1,
    )
    takeover = deployed.run({"order": "t"})  # a dead holder's expired lease is taken over
    set_record(
        engine,
        deployed,
        held_by=takeover.arn,
        executionstatus="IN_PROGRESS",
        execution="arn:alive",
        leaseexpiry=int(time.time()) + 600,
    )
    runs += [taken, takeover, deployed.run({"order": "t"})]  # the last one gives up waiting
    work.latency = 0.5
    holder = deployed.start({"order": "lost"})
    deadline = time.time() + 10
    while not _held_by(deployed, holder.arn) and time.time() < deadline:
        time.sleep(0.01)
    set_record(engine, deployed, held_by=holder.arn, execution="arn:took-over")
    runs.append(holder.wait())  # LockLost
    work.latency = 0.0
    # ResultNotStored, twice: no other metric counts 2 by chance.
    runs += [deployed.run({"order": f"s{n}"}, test_case="StoreFails") for n in range(2)]
    return runs


def outcomes(runs) -> Counter:
    return Counter((execution.status, execution.error) for execution in runs)


@pytest.fixture(params=list(TYPES), scope="module")
def demo_counts(request, example_stacks):
    """The demo's executions on every path, and the counts of its metric filters."""
    from idempotent_workflows.testing import LocalEngine

    stack = example_stacks[f"IdempotentWorkflow{request.param}"]
    (protocol,) = [c for c in stack.node.find_all() if isinstance(c, IdempotencyProtocol)]
    with LocalEngine() as engine:
        deployed = engine.deploy(stack)
        runs = run_every_path(engine, deployed)
        (namespace,) = deployed.metric_counts(runs)
        yield {
            "runs": runs,
            "invocations": deployed.function("RandomFailure").invocations,
            "attempts": sum(item["attempts"] for item in deployed.items()),
            "max_polls": protocol.max_polls,
            "counted": {
                level: deployed.metric_counts(runs, level=level)[namespace]
                for level in ("ALL", "ERROR", "FATAL", "OFF")
            },
        }


def test_the_filters_count_what_happened(demo_counts):
    runs, counted = demo_counts["runs"], demo_counts["counted"]["ALL"]
    by_outcome = outcomes(runs)
    waits = sum(execution.states_entered.count(S.WAIT_FOR_LOCK) for execution in runs)
    expected = {
        "WorkRuns": demo_counts["invocations"],
        "Duplicates": sum(
            execution.status == "SUCCEEDED" and execution.lambda_invocations == 0
            for execution in runs
        ),
        "LockWaits": waits,
        "LockWaitTimeouts": by_outcome["FAILED", "Idempotency.LockWaitTimeout"],
        "LockLost": by_outcome["FAILED", "Idempotency.LockLost"],
        "ResultNotStored": by_outcome["FAILED", "Idempotency.ResultNotStored"],
        "InvalidKeys": 0,
    }
    assert dict(counted) == expected
    # The table agrees: each run of the work took the lock once (the records' attempts).
    assert counted["WorkRuns"] == demo_counts["attempts"]
    # Every path happened: the counts above are not zeros agreeing with zeros.
    assert expected["WorkRuns"] >= 8 and expected["Duplicates"] >= 6
    assert expected["LockWaits"] >= demo_counts["max_polls"]
    assert expected["LockWaitTimeouts"] >= 1 and expected["LockLost"] == 1
    assert expected["ResultNotStored"] == 2


@pytest.mark.parametrize("level", ["ERROR", "FATAL", "OFF"])
def test_at_a_quieter_level_only_its_metrics_still_count(demo_counts, level):
    everything, quieter = demo_counts["counted"]["ALL"], demo_counts["counted"][level]
    assert {name: quieter[name] for name in everything} == {
        name: count if name in AT_LEVEL[level] else 0 for name, count in everything.items()
    }


@pytest.mark.parametrize("workflow_type", list(TYPES))
def test_mismatches_and_invalid_keys_are_counted(local_engine, workflow_type):
    deployed = local_engine.deploy(payload_stack(f"Payload{workflow_type}", TYPES[workflow_type]))
    runs = [
        deployed.run({"id": "p", "amount": 1, "sleep": 0}),
        deployed.run({"id": "p", "amount": 1, "sleep": 0}),
        deployed.run({"id": "p", "amount": 2, "sleep": 0}),
        deployed.run({"amount": 2, "sleep": 0}),
    ]
    by_outcome = outcomes(runs)
    (counted,) = deployed.metric_counts(runs).values()
    assert dict(counted) == {
        "WorkRuns": len(deployed.items()),  # one record, written by the one run of the work
        "Duplicates": by_outcome["SUCCEEDED", None] - len(deployed.items()),
        "LockWaits": 0,
        "LockWaitTimeouts": 0,
        "LockLost": 0,
        "ResultNotStored": 0,
        "PayloadMismatches": by_outcome["FAILED", "Idempotency.PayloadMismatch"],
        "InvalidKeys": by_outcome["FAILED", "Idempotency.InvalidKey"],
    }
    assert counted["PayloadMismatches"] == counted["InvalidKeys"] == counted["Duplicates"] == 1


def test_embedded_protocols_are_counted_apart(local_engine):
    deployed = local_engine.deploy(embedded_stack())
    runs = [
        deployed.run({"a": 1, "b": 1}),
        deployed.run({"a": 1, "b": 2}),
        deployed.run({"a": 2, "b": 2}),
    ]
    counted = deployed.metric_counts(runs)
    # Charge keys on a: runs for a=1 and a=2, one duplicate. A duplicate Charge passes on the
    # stored output ({"a": 1, "b": 1}), so Ship sees b=1, b=1, b=2: two runs, one duplicate.
    records = Counter(item["id"].split("#")[0] for item in deployed.items())
    charge, ship = counted["Shop/Charge"], counted["IdempotentWorkflows/Embedded/Ship"]
    assert (charge["WorkRuns"], charge["Duplicates"]) == (records["Embedded/Charge"], 1)
    assert (ship["WorkRuns"], ship["Duplicates"]) == (records["Embedded/Ship"], 1)
    assert charge["WorkRuns"] == ship["WorkRuns"] == 2
