"""A bare CDK app with as many empty stacks as app.py has: the synth-time baseline."""

from aws_cdk import App, Stack

from idempotent_workflows.examples import workflow_types

app = App()
for index in range(2 * len(workflow_types(app))):
    Stack(app, f"Empty{index}")
app.synth()
