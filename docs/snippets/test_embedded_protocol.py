"""README "Embed the protocol in your own state machine": the snippet inside a user's stack."""

from aws_cdk import App, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template
from constructs import Construct

from idempotent_workflows import (
    IdempotencyKey,
    IdempotencyProtocol,
    IdempotencyTable,
    execution_logs,
)
from idempotent_workflows.testing import LocalEngine


class EmailStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        received = sfn.Pass.jsonata(self, "Received")
        send_email = sfn.Pass.jsonata(
            self, "SendEmail", outputs={"sentTo": "{% $states.input.to %}"}
        )
        # snippet: embed
        once = IdempotencyProtocol(
            self,
            "SendOnce",
            work=send_email,  # any JSONata chainable
            table=IdempotencyTable(self, "Records"),
            key=IdempotencyKey.from_fields("messageId"),
            workflow_type=sfn.StateMachineType.EXPRESS,  # applies the 5-minute limits
        )
        # Level ALL (every state entered, no inputs and outputs), as IdempotentWorkflow logs.
        logs = execution_logs(self, sfn.StateMachineType.EXPRESS)
        sfn.StateMachine(
            self,
            "Machine",
            definition_body=sfn.DefinitionBody.from_chainable(received.next(once)),
            query_language=sfn.QueryLanguage.JSONATA,
            state_machine_type=sfn.StateMachineType.EXPRESS,
            logs=logs,
        )
        # WorkRuns, Duplicates, LockLost... counted from that log: self.metrics.metric_duplicates()
        self.metrics = once.add_metric_filters(logs)
        # end snippet


def test_the_embedded_protocol_sends_each_message_once(local_engine: LocalEngine) -> None:
    stack = EmailStack(App(), "Emails")
    Template.from_stack(stack).has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "EXPRESS",
            "LoggingConfiguration": Match.object_like(
                {"Level": "ALL", "IncludeExecutionData": False}
            ),
        },
    )
    deployed = local_engine.deploy(stack)
    message = {"messageId": "m-1", "to": "a@example.com"}
    first, again = deployed.run(message), deployed.run(message)
    assert first.output == again.output == {"sentTo": "a@example.com"}
    assert first.states_entered.count("SendEmail") == 1
    assert "SendEmail" not in again.states_entered
