"""Run synthesized idempotent workflows offline, on moto's Step Functions interpreter.

``LocalEngine`` deploys a synthesized stack's tables, Lambda functions and state machines into
an in-process AWS and runs executions; the ``local_engine`` pytest fixture (registered by the
package's pytest plugin) wraps it. ``idempotent_workflows.testing.ministack`` deploys for real
into MiniStack (the ``[ministack]`` extra). Needs the ``[testing]`` extra:
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

from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:
    from .engine import DeployedStack, Execution, LocalEngine
    from .lambda_runtime import LocalFunction

__all__ = ["DeployedStack", "Execution", "LocalEngine", "LocalFunction"]


def __getattr__(name: str) -> Any:
    """Import the engine on first use.

    ``testing.ministack`` then works without loading moto's backends, which read the AWS
    profile at import time.
    """
    if name == "LocalFunction":
        from .lambda_runtime import LocalFunction

        return LocalFunction
    if name in __all__:
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
