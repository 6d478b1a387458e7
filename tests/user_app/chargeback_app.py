"""A user's own CDK app: it extends the router and protects its own work, like a library user."""

from __future__ import annotations

from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from idempotent_workflows import IdempotencyKey, IdempotentWorkflow, TransactionRouter


class ChargebackRouter(TransactionRouter):
    """Routes CHARGEBACK too, to the caller's own function."""

    def __init__(self, scope: Construct, id: str, *, chargeback_function, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.add_route("CHARGEBACK", chargeback_function)


class PaymentsStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)

        def function(name: str) -> lambda_.Function:
            return lambda_.Function(
                self,
                name,
                runtime=lambda_.Runtime.PYTHON_3_14,
                handler="index.handler",
                code=lambda_.Code.from_inline(f"def handler(event, context):\n    return {name!r}"),
            )

        self.router = ChargebackRouter(
            self,
            "Router",
            purchase_function=function("Purchase"),
            refund_function=function("Refund"),
            chargeback_function=function("Chargeback"),
        )
        self.payments = IdempotentWorkflow(
            self, "Payments", work=self.router, key=IdempotencyKey.from_fields("TransactionId")
        )
        own_work = sfn.Pass.jsonata(self, "SendReceiptEmail", outputs={"sent": True})
        self.emails = IdempotentWorkflow(self, "Emails", work=own_work)


def build(app: App) -> PaymentsStack:
    return PaymentsStack(app, "Payments")
