"""The package is typed (py.typed, mypy strict): a user's type checker flags wrong props."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

USER_APP = """
from aws_cdk import App, Stack
from aws_cdk import aws_stepfunctions as sfn

from idempotent_workflows import IdempotentWorkflow

stack = Stack(App(), "Typed")
IdempotentWorkflow(stack, "Wrong", work=sfn.Pass.jsonata(stack, "Work"), key="orderId", lease=300)
"""


def test_mypy_flags_wrong_prop_types_in_a_users_app(tmp_path):
    app = tmp_path / "typed_app.py"
    app.write_text(USER_APP)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), str(app)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Argument "key" to "IdempotentWorkflow" has incompatible type "str"' in result.stdout
    assert 'Argument "lease" to "IdempotentWorkflow" has incompatible type "int"' in result.stdout
