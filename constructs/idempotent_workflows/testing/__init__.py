"""Run synthesized idempotent workflows offline, on moto's Step Functions interpreter.

``LocalEngine`` deploys a synthesized stack's tables, Lambda functions, queues, topics and
state machines into an in-process AWS and runs executions (``Execution``); the
``local_engine`` pytest fixture (registered by the package's pytest plugin) wraps it.
``MockConfig`` injects faults (Step Functions Local's mock configuration shape);
``DeployedStack.serve_api`` serves a stack's REST API (``ApiServer``; ``post_json`` sends it a
request); ``state_machine_definitions`` reads a template's state machines.
``idempotent_workflows.testing.ministack`` deploys for real into MiniStack (the
``[ministack]`` extra). Needs the ``[testing]`` extra:
``pip install 'idempotent-workflows[testing]'``.

The names below are the engine's public API; the modules under this package are its
internals (docs/engine.md describes the layout) and may change between releases.
"""

#: The top-level modules the [testing] extra installs.
_EXTRA: frozenset[str] = frozenset({"airspeed", "boto3", "botocore", "moto"})

try:
    from .isolation import isolated_from_aws

    # Some of moto's modules read the AWS settings when imported (moto.ec2 builds a boto3
    # session, which fails on a profile that does not exist): import them away from the user's.
    with isolated_from_aws("us-east-1"):
        # moto first: a moto the engine does not support fails here, naming what it lacks,
        # before aws-cdk-lib (imported by the engine) starts its Node process.
        from . import moto_compat  # noqa: F401
        from .apigateway.server import ApiServer, Response, post_json
        from .deploy.functions import LocalFunction
        from .deploy.stack import DeployedStack
        from .deploy.template import state_machine_definitions, work_branch
        from .engine import LocalEngine
        from .run.execution import Execution
        from .stepfunctions.faults import MockConfig
except ImportError as error:
    if error.name not in _EXTRA:
        raise
    raise ImportError(
        "idempotent_workflows.testing needs the [testing] extra, which is not installed "
        f"(missing: {error.name}): pip install 'idempotent-workflows[testing]'"
    ) from error

__all__ = [
    "ApiServer",
    "DeployedStack",
    "Execution",
    "LocalEngine",
    "LocalFunction",
    "MockConfig",
    "Response",
    "post_json",
    "state_machine_definitions",
    "work_branch",
]
