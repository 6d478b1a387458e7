#!/usr/bin/env python3
"""The example app: both example workflows, as Standard and as Express state machines.

The workflow types come from the cdk.json context ``idempotent-workflows:workflowTypes``.
cdk-nag's AWS Solutions and Serverless packs check every stack; synthesis fails on any
finding that is not acknowledged (see README, Security).
"""

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from idempotent_workflows import acknowledge_findings
from idempotent_workflows.examples import add_example_stacks

app = App()
Validations.of(app).add_plugins(AwsSolutionsChecks(), ServerlessChecks())
add_example_stacks(app)
acknowledge_findings(app)
app.synth()
