"""Run synthesized idempotent workflows offline, on moto's Step Functions interpreter.

``LocalEngine`` deploys a synthesized stack's tables, Lambda functions and state machines into
an in-process AWS and runs executions; ``local_engine`` (in ``pytest_plugin``) is a pytest
fixture around it. ``MockConfig`` injects faults (Step Functions Local's mock configuration
shape). Needs the ``dev`` extra (moto, jsonata-python).
"""

from .engine import DeployedStack, Execution, LocalEngine
from .faults import MockConfig
from .lambda_runtime import LocalFunction

__all__ = ["DeployedStack", "Execution", "LocalEngine", "LocalFunction", "MockConfig"]
