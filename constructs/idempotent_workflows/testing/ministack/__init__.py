"""MiniStack, the real deploy path: ``cdk deploy`` into a local emulator, then boto3.

``MiniStack`` starts the emulator (PyPI ``ministack``, the ``[ministack]`` extra) in an AWS
environment of its own and deploys cloud assemblies with the CDK CLI; ``run_execution`` runs
one execution of a deployed state machine to its end (an ``Execution``, as on the local
engine). The ``ministack`` and ``deployed_assembly`` pytest fixtures wrap it.
"""

from ..run.execution import run_execution
from .emulator import MiniStack, MiniStackError, port_is_free

__all__ = ["MiniStack", "MiniStackError", "port_is_free", "run_execution"]
