"""README "A durable flow": wait_for_callback and FailureNotification in a user's own flow."""

from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from idempotent_workflows import FailureNotification, wait_for_callback
from idempotent_workflows.testing import LocalEngine


class OrdersStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        warehouse_queue = sqs.Queue(self, "WarehouseQueue")
        topic = sns.Topic(self, "Failures")
        function = lambda_.Function(
            self,
            "Work",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.handler",
            code=lambda_.Code.from_asset("handlers/work"),
        )
        validate, charge, reserve = (
            tasks.LambdaInvoke.jsonata(
                self, name, lambda_function=function, outputs="{% $states.result.Payload %}"
            )
            for name in ("Validate", "Charge", "Reserve")
        )
        # snippet: pieces
        wait = wait_for_callback(
            self,
            "WaitForWarehouse",
            queue=warehouse_queue,
            message="{'OrderId': $states.input.OrderId}",  # the token is added as TaskToken
            timeout=Duration.hours(2),
            heartbeat=Duration.minutes(10),
        )
        failure = FailureNotification(
            self,
            "Failure",
            topic=topic,
            subject="Order failed",
            details="{'OrderId': $states.input.OrderId}",
        )
        failure.catch(validate, charge, reserve, wait)  # every error of each, to SNS, then Fail
        # end snippet
        sfn.StateMachine(
            self,
            "Flow",
            definition_body=sfn.DefinitionBody.from_chainable(
                validate.next(charge).next(reserve).next(wait)
            ),
            query_language=sfn.QueryLanguage.JSONATA,
        )


def test_a_rejection_is_published_and_fails_the_flow(local_engine: LocalEngine) -> None:
    flow = local_engine.deploy(OrdersStack(App(), "Orders"))
    execution = flow.start({"OrderId": "o-1"})
    (message,) = flow.receive("WarehouseQueue", timeout=10)
    assert message["OrderId"] == "o-1"
    local_engine.sfn.send_task_failure(
        taskToken=message["TaskToken"], error="Warehouse.Rejected", cause="no stock"
    )
    finished = execution.wait()
    assert (finished.status, finished.error) == ("FAILED", "Warehouse.Rejected")
    (published,) = flow.published("Failures")
    assert published["Subject"] == "Order failed"
    assert published["Message"] == {
        "OrderId": "o-1",
        "Error": "Warehouse.Rejected",
        "Cause": "no stock",
    }
