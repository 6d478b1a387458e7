"""A bare CDK app with as many empty stacks as app.py has: the synth-time baseline.

The benchmark passes the number of stacks app.py synthesized as the ``stacks`` context.
"""

from aws_cdk import App, Stack

app = App()
for index in range(int(app.node.get_context("stacks"))):
    Stack(app, f"Empty{index}")
app.synth()
