"""Run synthesized idempotent workflows offline, on moto's Step Functions interpreter.

``LocalEngine`` deploys a synthesized stack's tables, Lambda functions and state machines into
an in-process AWS and runs executions; ``local_engine`` (in ``pytest_plugin``) is a pytest
fixture around it. ``MockConfig`` injects faults (Step Functions Local's mock configuration
shape). Needs the ``dev`` extra (moto, jsonata-python).
"""

from .hermetic import isolated_from_aws

# Some of moto's modules read the AWS settings when imported (moto.ec2 builds a boto3 session,
# which fails on a profile that does not exist): import them away from the user's settings.
with isolated_from_aws("us-east-1"):
    from .engine import DeployedStack, Execution, LocalEngine
    from .faults import MockConfig
    from .lambda_runtime import LocalFunction

__all__ = ["DeployedStack", "Execution", "LocalEngine", "LocalFunction", "MockConfig"]
