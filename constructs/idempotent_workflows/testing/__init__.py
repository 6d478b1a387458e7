"""Run synthesized idempotent workflows offline, on moto's Step Functions interpreter.

``LocalEngine`` deploys a synthesized stack's tables, Lambda functions and state machines into
an in-process AWS and runs executions; the ``local_engine`` pytest fixture (registered by the
package's pytest plugin) wraps it. ``MockConfig`` injects faults (Step Functions Local's mock
configuration shape). ``idempotent_workflows.testing.ministack`` deploys for real into
MiniStack (the ``[ministack]`` extra). Needs the ``[testing]`` extra:
``pip install 'idempotent-workflows[testing]'``.
"""

try:
    import boto3  # noqa: F401
    import jsonata  # noqa: F401
    import moto  # noqa: F401
except ImportError as error:
    raise ImportError(
        "idempotent_workflows.testing needs the [testing] extra, which is not installed "
        f"(missing: {error.name}): pip install 'idempotent-workflows[testing]'"
    ) from error

from .hermetic import isolated_from_aws  # noqa: E402

# Some of moto's modules read the AWS settings when imported (moto.ec2 builds a boto3 session,
# which fails on a profile that does not exist): import them away from the user's settings.
with isolated_from_aws("us-east-1"):
    from .engine import DeployedStack, Execution, LocalEngine
    from .faults import MockConfig
    from .lambda_runtime import LocalFunction

__all__ = ["DeployedStack", "Execution", "LocalEngine", "LocalFunction", "MockConfig"]
