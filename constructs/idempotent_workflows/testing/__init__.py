"""Run synthesized idempotent workflows offline, on moto's Step Functions interpreter.

``LocalEngine`` deploys a synthesized stack's tables, Lambda functions and state machines into
an in-process AWS and runs executions; the ``local_engine`` pytest fixture (registered by the
package's pytest plugin) wraps it. Needs the ``[testing]`` extra:
``pip install 'idempotent-workflows[testing]'``.
"""

from importlib.util import find_spec

_MISSING = [name for name in ("boto3", "moto", "jsonata") if find_spec(name) is None]
if _MISSING:
    raise ImportError(
        "idempotent_workflows.testing needs the [testing] extra, which is not installed "
        f"(missing: {', '.join(_MISSING)}): pip install 'idempotent-workflows[testing]'"
    )

from .engine import DeployedStack, Execution, LocalEngine  # noqa: E402
from .lambda_runtime import LocalFunction  # noqa: E402

__all__ = ["DeployedStack", "Execution", "LocalEngine", "LocalFunction"]
