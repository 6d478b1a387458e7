"""A user's CDK app built on the installed idempotent-workflows wheel (outside its repository).

It keys the classic demo on an input-carried JMESPath, adds a CHARGEBACK route to the example
transaction stack by subclassing it, embeds the protocol in its own Express state machine and
deploys the example order flow with a tighter concurrency limit.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from idempotent_workflows import IdempotencyKey, IdempotencyProtocol, IdempotencyTable
from idempotent_workflows.examples import (
    IdempotentWorkflowStack,
    OrderFlowStack,
    TransactionStack,
)

HANDLERS = Path(__file__).resolve().parent / "handlers"


class ChargebackStack(TransactionStack):
    """The example transaction stack with one more route."""

    def add_routes(self, router):
        router.add_route(
            "CHARGEBACK",
            lambda_.Function(
                self,
                "ChargebackFunction",
                runtime=lambda_.Runtime.PYTHON_3_12,
                handler="handler.handler",
                code=lambda_.Code.from_asset(str(HANDLERS / "chargeback")),
            ),
        )


class EmailStack(Stack):
    """The protocol embedded in the user's own Express state machine."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        send = sfn.Pass.jsonata(self, "SendEmail", outputs={"sentTo": "{% $states.input.to %}"})
        once = IdempotencyProtocol(
            self,
            "Once",
            work=send,
            table=IdempotencyTable(self, "Records", removal_policy=RemovalPolicy.DESTROY),
            key=IdempotencyKey.from_fields("messageId"),
            workflow_type=sfn.StateMachineType.EXPRESS,
        )
        received = sfn.Pass.jsonata(self, "Received")
        sfn.StateMachine(
            self,
            "Machine",
            definition_body=sfn.DefinitionBody.from_chainable(received.next(once)),
            query_language=sfn.QueryLanguage.JSONATA,
            state_machine_type=sfn.StateMachineType.EXPRESS,
        )


def build(app: App) -> dict[str, Stack]:
    return {
        "demo": IdempotentWorkflowStack(
            app, "Demo", key=IdempotencyKey.from_input_jmespath(), failure_rate="0"
        ),
        "transactions": ChargebackStack(app, "Transactions"),
        "emails": EmailStack(app, "Emails"),
        "orders": OrderFlowStack(app, "Orders", max_concurrency=2),
    }


if __name__ == "__main__":
    app = App()
    build(app)
    app.synth()
