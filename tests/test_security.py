"""Security gates: cdk-nag, ASL validation, cfn-lint and least privilege on the synthesized app."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from conftest import CONTEXT, EXAMPLE_STACKS, ROOT, as_list

from idempotent_workflows import (
    IdempotentApi,
    IdempotentWorkflow,
    acknowledge_findings,
    queue_with_dead_letters,
)
from idempotent_workflows.examples import add_example_stacks
from idempotent_workflows.private.nag import UNSCOPED_ACTIONS
from idempotent_workflows.testing import state_machine_definitions

NODE_BIN = ROOT / "node_modules" / ".bin"
#: The logical id prefix of the order flow's reservations table.
RESERVATIONS = "ReservationsTable"


def checked_app(outdir: Path, *, acknowledge: bool = True) -> App:
    """The example app as app.py builds it: cdk-nag packs on, findings acknowledged."""
    app = App(context=CONTEXT, outdir=str(outdir))
    Validations.of(app).add_plugins(AwsSolutionsChecks(), ServerlessChecks())
    add_example_stacks(app)
    if acknowledge:
        acknowledge_findings(app)
    return app


@pytest.fixture(scope="module")
def assembly(tmp_path_factory):
    """The checked app, synthesized once: synthesis itself fails on any cdk-nag finding."""
    return checked_app(tmp_path_factory.mktemp("cdk.out")).synth()


@pytest.fixture(scope="module")
def templates(assembly) -> dict[str, dict]:
    return {stack.stack_name: stack.template for stack in assembly.stacks}


def test_nag_passes_with_acknowledgments(templates):
    assert sorted(templates) == sorted(EXAMPLE_STACKS)


def test_nag_reports_every_finding_that_is_not_acknowledged(tmp_path):
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        checked_app(tmp_path, acknowledge=False).synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {
        violation["ruleName"].split("[")[0]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }
    assert {"AwsSolutions-IAM5", "Serverless-LambdaDLQ"} <= rules


def test_the_api_and_a_dead_letter_queue_acknowledge_their_own_findings(tmp_path):
    """Without acknowledge_findings, only the state machine role's findings remain."""
    app = App(context=CONTEXT, outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks(), ServerlessChecks())
    stack = Stack(app, "Own")
    IdempotentApi(stack, "Api", work=sfn.Pass.jsonata(stack, "Work"))
    queue_with_dead_letters(stack, "Queue", "DeadLetters")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {
        violation["ruleName"].split("[")[0]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }
    assert "AwsSolutions-IAM5" in rules  # the state machine role: acknowledge_findings' part
    assert not rules & {
        "AwsSolutions-APIG6",
        "AwsSolutions-APIG3",
        "AwsSolutions-COG4",
        "Serverless-SQSRedrivePolicy",
    }


def test_an_unexpected_wildcard_is_not_acknowledged(tmp_path):
    app = App(context=CONTEXT, outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks())
    stack = Stack(app, "Wildcard")
    workflow = IdempotentWorkflow(stack, "Workflow", work=sfn.Pass.jsonata(stack, "Work"))
    workflow.state_machine.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"])
    )
    acknowledge_findings(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_every_definition_passes_asl_validator(templates, tmp_path):
    validator = str(NODE_BIN / "asl-validator")
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    control = subprocess.run([validator, "--json-path", str(tmp_path / "broken.json")])
    assert control.returncode != 0  # the validator does reject a broken definition
    count = 0
    for name, template in templates.items():
        for logical_id, definition in state_machine_definitions(template).items():
            path = tmp_path / f"{name}-{logical_id}.json"
            path.write_text(json.dumps(definition))
            result = subprocess.run(
                [validator, "--json-path", str(path)], capture_output=True, text=True
            )
            assert result.returncode == 0, result.stdout + result.stderr
            count += 1
    assert count == len(EXAMPLE_STACKS)


def test_cfn_lint_finds_no_error(assembly):
    cfn_lint = shutil.which("cfn-lint")
    assert cfn_lint is not None
    paths = sorted(Path(assembly.directory).glob("*.template.json"))
    assert len(paths) == len(EXAMPLE_STACKS)
    result = subprocess.run([cfn_lint, *map(str, paths)], capture_output=True, text=True)
    assert result.returncode & 2 == 0, result.stdout  # bit 2: errors (4: warnings, 8: info)


# -- least privilege -------------------------------------------------------------------------


def policies_of(template: dict, role_prefix: str) -> list[dict]:
    """The statements of every policy attached to roles whose logical id starts with the prefix."""
    statements = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        roles = [r["Ref"] for r in resource["Properties"]["Roles"]]
        if any(role.startswith(role_prefix) for role in roles):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def function_of(resource: dict) -> str:
    """Logical id of the function in ``{"Fn::GetAtt": [id, "Arn"]}`` or its ``ARN:*`` join."""
    if "Fn::Join" in resource:
        resource = resource["Fn::Join"][1][0]
    return resource["Fn::GetAtt"][0]


def logical_ids(template: dict, kind: str) -> set[str]:
    return {k for k, r in template["Resources"].items() if r["Type"] == kind}


@pytest.mark.parametrize(
    "name",
    EXAMPLE_STACKS,
)
def test_state_machine_role_is_least_privilege(templates, name):
    template = templates[name]
    # The order flow's reservations are its ReserveItem function's, never the state machine's.
    (table,) = [
        table
        for table in logical_ids(template, "AWS::DynamoDB::Table")
        if not table.startswith(RESERVATIONS)
    ]
    functions = logical_ids(template, "AWS::Lambda::Function")
    queues = logical_ids(template, "AWS::SQS::Queue")
    topics = logical_ids(template, "AWS::SNS::Topic")
    (role,) = {
        logical_id
        for logical_id in logical_ids(template, "AWS::IAM::Role")
        if "StateMachineRole" in logical_id
    }
    statements = policies_of(template, role)
    assert statements
    for statement in statements:
        actions = set(as_list(statement["Action"]))
        resources = as_list(statement["Resource"])
        text = json.dumps(resources)
        if resources == ["*"]:
            assert actions <= UNSCOPED_ACTIONS, actions
        elif any(a.startswith("dynamodb:") for a in actions):
            assert actions <= {"dynamodb:GetItem", "dynamodb:UpdateItem"}
            assert f'"Ref": "{table}"' in text and "*" not in text
        elif actions == {"lambda:InvokeFunction"}:
            invoked = {function_of(resource) for resource in resources}
            assert invoked and invoked <= functions
        elif actions == {"sqs:SendMessage"}:  # the order flow's warehouse queue, and only it
            (resource,) = resources
            assert resource["Fn::GetAtt"][0] in queues and "DeadLetters" not in text
        elif actions == {"sns:Publish"}:
            assert resources in ([{"Ref": topic}] for topic in topics)
        else:
            pytest.fail(f"unexpected statement {statement}")


@pytest.mark.parametrize(
    "name", ["IdempotentWorkflowStandard", "TransactionExpress", "PaymentsApi", "OrderFlow"]
)
def test_lambda_roles_write_their_own_logs_and_nothing_else(templates, name):
    template = templates[name]
    for function_id, function in template["Resources"].items():
        if function["Type"] != "AWS::Lambda::Function":
            continue
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        roles = template["Resources"][role]["Properties"]
        assert "ManagedPolicyArns" not in roles
        for statement in policies_of(template, role):
            actions = set(as_list(statement["Action"]))
            if function_id.startswith("ReserveItem") and actions == {"dynamodb:UpdateItem"}:
                # The order flow's reservations: one conditional write per order line.
                (table,) = {r["Fn::GetAtt"][0] for r in as_list(statement["Resource"]) if r}
                assert table.startswith(RESERVATIONS), statement
                continue
            assert not any(a.startswith("dynamodb:") for a in actions), function_id
            if statement["Resource"] == "*":
                assert actions <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
            else:
                assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}
                assert statement["Resource"] == {"Fn::GetAtt": [log_group, "Arn"]}
