"""README "Security": acknowledge_findings on a user's app, checked by cdk-nag."""

import json
from pathlib import Path

import pytest
from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from payments_stack import PaymentsStack


def test_only_the_users_own_function_is_left_to_cdk_nag(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks())
    PaymentsStack(app, "Payments")
    # snippet: acknowledge
    from idempotent_workflows import acknowledge_findings

    acknowledge_findings(app)
    # end snippet
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    flagged = {
        construct["constructPath"]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }
    # The quick start's own function (managed policy, runtime); nothing of IdempotentWorkflow.
    assert flagged == {"Payments/Charge/ServiceRole/Resource", "Payments/Charge/Resource"}
