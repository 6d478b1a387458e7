"""Run synthesized idempotent workflows offline, on moto's Step Functions interpreter.

``LocalEngine`` deploys a synthesized stack's tables, Lambda functions and state machines into
an in-process AWS and runs executions; the ``local_engine`` pytest fixture (registered by the
package's pytest plugin) wraps it. Needs the ``[testing]`` extra:
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

from .engine import DeployedStack, Execution, LocalEngine  # noqa: E402
from .lambda_runtime import LocalFunction  # noqa: E402

__all__ = ["DeployedStack", "Execution", "LocalEngine", "LocalFunction"]
