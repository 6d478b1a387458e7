#!/usr/bin/env python3
"""The example app: both example workflows, as Standard and as Express state machines.

The workflow types come from the cdk.json context ``idempotent-workflows:workflowTypes``.
"""

from aws_cdk import App
from idempotent_workflows import add_example_stacks

app = App()
add_example_stacks(app)
app.synth()
