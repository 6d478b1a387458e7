import json
from pathlib import Path

from aws_cdk import App
from aws_cdk.assertions import Template
from syrupy.assertion import SnapshotAssertion

from idempotent_workflows.snapshots import mask_asset_hashes
from payments_stack import PaymentsStack

#: The context `cdk synth` reads from cdk.json (pytest runs in the project's folder).
CDK_JSON_CONTEXT = json.loads(Path("cdk.json").read_text())["context"]


def test_template(snapshot: SnapshotAssertion) -> None:  # syrupy
    template = Template.from_stack(PaymentsStack(App(context=CDK_JSON_CONTEXT), "Payments"))
    assert mask_asset_hashes(template.to_json()) == snapshot
