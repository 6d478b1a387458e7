# test_operating.py
"""README "Operating it": a workflow's alarms and dashboard, its metrics, and its records."""

from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from constructs import Construct

from idempotent_workflows import IdempotencyKey, IdempotentWorkflow
from idempotent_workflows.runtime import IdempotencyRecords, WorkflowDescription
from idempotent_workflows.testing import LocalEngine


class OrdersStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        ship = sfn.Pass.jsonata(self, "Ship", outputs={"shipped": "{% $states.input.orderId %}"})
        # snippet: monitor
        orders = IdempotentWorkflow(
            self,
            "Orders",
            work=ship,
            key=IdempotencyKey.from_fields("orderId"),
        )
        alarms = sns.Topic(self, "Alarms", enforce_ssl=True)  # subscribe your pager to it
        orders.add_monitoring(topic=alarms)  # five alarms and a dashboard
        self.duplicates = orders.metric_duplicates()  # for alarms and graphs of your own
        # end snippet


def test_the_metrics_count_and_the_operator_reads_the_record(local_engine: LocalEngine) -> None:
    stack = OrdersStack(App(), "Orders")
    Template.from_stack(stack).resource_count_is("AWS::CloudWatch::Alarm", 5)
    deployed = local_engine.deploy(stack)
    runs = [deployed.run({"orderId": "o-1"}) for _ in range(3)]
    # What CloudWatch would count in these executions' logs, by namespace and metric.
    (counts,) = deployed.metric_counts(runs).values()
    assert (counts["WorkRuns"], counts["Duplicates"]) == (1, 2)
    state_machine_arn, sfn_client = deployed.state_machine(), local_engine.sfn
    dynamodb_client = local_engine.dynamodb
    # snippet: operate
    # In AWS: boto3.client("stepfunctions") and boto3.client("dynamodb").
    (orders,) = WorkflowDescription.describe(state_machine_arn, sfn_client)
    records = IdempotencyRecords.of(orders, dynamodb_client)
    shown = records.show(records.record_id({"orderId": "o-1"}))
    assert shown is not None  # None: the key has no record
    print(shown.describe())  # status, holder, lease end, attempts, result size, expiry
    if shown.stuck:  # IN_PROGRESS: released only if it is still exactly this record
        records.release(shown, reason="INC-42: the holder's task crashed")
    # end snippet
    assert (shown.status, shown.attempts, shown.holder) == ("SUCCEEDED", 1, runs[0].arn)
