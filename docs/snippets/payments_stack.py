# payments_stack.py
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from idempotent_workflows import IdempotencyKey, IdempotentWorkflow


class PaymentsStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        charge = lambda_.Function(
            self,
            "Charge",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.handler",
            code=lambda_.Code.from_asset("handlers/charge"),
        )
        self.payments = IdempotentWorkflow(
            self,
            "Payments",
            work=tasks.LambdaInvoke.jsonata(
                self, "ChargeCard", lambda_function=charge, outputs="{% $states.result.Payload %}"
            ),
            key=IdempotencyKey.from_fields("paymentId"),
            workflow_type=sfn.StateMachineType.EXPRESS,
        )


app = App()
PaymentsStack(app, "Payments")
app.synth()
