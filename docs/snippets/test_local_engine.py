"""docs/engine.md: the engine outside pytest, and Map concurrency measured."""

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from idempotent_workflows.testing import LocalEngine
from payments_stack import PaymentsStack


def test_the_engine_as_a_context_manager(capsys: pytest.CaptureFixture[str]) -> None:
    stack = PaymentsStack(App(), "Payments")
    # snippet: outside-pytest
    from idempotent_workflows.testing import LocalEngine

    with LocalEngine() as engine:  # or the `local_engine` pytest fixture
        deployed = engine.deploy(stack)  # a CDK Stack, synthesized for you
        execution = deployed.run({"paymentId": "p-1", "amount": 5})
        print(execution.status, execution.output, execution.states_entered)
        print(deployed.function("Charge").invocations)  # how often the real handler ran
        print(deployed.items())  # the idempotency records
    # end snippet
    status, invocations, records = capsys.readouterr().out.splitlines()
    assert status.startswith("SUCCEEDED {'paymentId': 'p-1', 'charged': 5} [")
    assert invocations == "1"
    assert "'executionstatus': 'SUCCEEDED'" in records


class MapStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        work = lambda_.Function(
            self,
            "Work",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.handler",
            code=lambda_.Code.from_asset("handlers/work"),
        )
        each = sfn.Map.jsonata(
            self,
            "Each",
            items=sfn.ProvideItems.jsonata("{% $states.input.items %}"),
            max_concurrency=5,
        )
        each.item_processor(tasks.LambdaInvoke.jsonata(self, "Invoke", lambda_function=work))
        sfn.StateMachine(
            self,
            "Machine",
            definition_body=sfn.DefinitionBody.from_chainable(each),
            query_language=sfn.QueryLanguage.JSONATA,
        )


def test_map_concurrency_is_measured(local_engine: LocalEngine) -> None:
    deployed = local_engine.deploy(MapStack(App(), "Map"))
    # snippet: peak
    work = deployed.function("Work")
    work.latency = 0.1  # so that invocations overlap
    deployed.run({"items": list(range(20))})
    assert work.invocations == 20 and 1 < work.peak_concurrency <= 5  # MaxConcurrency 5
    work.reset_counters()
    # end snippet
    assert (work.invocations, work.peak_concurrency) == (0, 0)
