"""``handler_function``: a Lambda function from a handler folder shipped in the package.

The package ships its handlers in ``lambdas/<folder>/`` (stdlib and boto3 only): the
JMESPath key mode's and the example stacks'. In the repository, ``lambdas/`` at the top is
their home; the package's ``lambdas`` is a link to it, which the wheel build turns into a copy,
so the handlers travel with the library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

#: Folder holding one sub-folder of handler code per function.
_LAMBDAS_ROOT: Final = (Path(__file__).parent / "lambdas").resolve()

#: The newest Python runtime this aws-cdk-lib knows (cdk-nag's rule L1 checks for it).
PYTHON_RUNTIME: Final = lambda_.Runtime.PYTHON_3_14

# Bytecode caches would change the asset hash from one machine to the next.
_ASSET_EXCLUDES: Final = ["__pycache__", "*.pyc"]


def handler_function(
    scope: Construct,
    id: str,
    *,
    folder: str,
    description: str,
    entry: str = "handler",
    environment: dict[str, str] | None = None,
    memory_size: int = 256,
    timeout: Duration | None = None,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
) -> lambda_.Function:
    """A function from the handler code in the package's ``lambdas/<folder>/``.

    Configured as the README's Security section describes: its own role, which may write only
    its own log group (one month), X-Ray tracing, the newest Python runtime this aws-cdk-lib
    knows (``PYTHON_RUNTIME``).

    Parameters
    ----------
    scope
        Parent construct.
    id
        Construct id.
    folder
        Sub-folder of ``lambdas/`` with the handler code (stdlib and boto3 only).
    description
        What the function does, shown in the console.
    entry
        Module in the folder whose ``handler`` function is the entry point. Default ``"handler"``.
    environment
        Environment variables. Default: none.
    memory_size
        Memory in MB. Default 256.
    timeout
        Longest run. Default 10 seconds.
    log_retention
        Retention of the function's log group. Default one month.
    removal_policy
        What happens to the log group when it leaves the stack. Default ``DESTROY``.

    Raises
    ------
    ValueError
        If the package has no ``lambdas/<folder>/<entry>.py``; the message lists the folders.
    """
    source = _LAMBDAS_ROOT / str(folder)
    if not (source / f"{entry}.py").is_file():
        shipped = ", ".join(sorted({path.parent.name for path in _LAMBDAS_ROOT.glob("*/*.py")}))
        raise ValueError(
            f"handler_function: the package has no lambdas/{folder}/{entry}.py: pass a "
            f"folder it ships ({shipped or 'none found: reinstall idempotent-workflows'}) "
            "and a module of that folder as entry."
        )
    log_group = logs.LogGroup(
        scope, f"{id}Logs", retention=log_retention, removal_policy=removal_policy
    )
    # Its own role, allowed to write its own log group only: the AWS managed basic execution
    # policy would let it write every log group in the account.
    role = iam.Role(
        scope,
        f"{id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Runs lambdas/{folder}/{entry}.py",
    )
    log_group.grant_write(role)
    return lambda_.Function(
        scope,
        id,
        runtime=PYTHON_RUNTIME,
        handler=f"{entry}.handler",
        code=lambda_.Code.from_asset(str(source), exclude=_ASSET_EXCLUDES),
        description=description,
        environment=environment,
        memory_size=memory_size,
        timeout=timeout or Duration.seconds(10),
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        role=role,
    )
