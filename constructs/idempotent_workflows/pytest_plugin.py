"""pytest plugin of idempotent-workflows: ``local_engine``, ``ministack``, ``deployed_assembly``.

Registered through the ``pytest11`` entry point, so installing the package is enough. The
engine and MiniStack are imported only when a test uses their fixture: they need the
``[testing]`` and ``[ministack]`` extras, and a project that installed the library without
them still runs pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import LocalEngine
    from .testing.ministack import MiniStack

#: ini option and command-line flag naming the cloud assembly ``deployed_assembly`` deploys.
ASSEMBLY_OPTION = "ministack_assembly"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--ministack-assembly`` / ``ministack_assembly`` (default ``cdk.out``)."""
    help_text = "cloud assembly (cdk.out) that the deployed_assembly fixture deploys into MiniStack"
    parser.addini(ASSEMBLY_OPTION, help_text, default="cdk.out")
    parser.addoption("--ministack-assembly", dest=ASSEMBLY_OPTION, default=None, help=help_text)


@pytest.fixture
def local_engine() -> Iterator[LocalEngine]:
    """A fresh ``LocalEngine`` (empty in-process AWS, Wait states scaled by 0.001)."""
    from .testing import LocalEngine

    with LocalEngine() as engine:
        yield engine


@pytest.fixture(scope="session")
def ministack() -> Iterator[MiniStack]:
    """A MiniStack started once per session on 127.0.0.1 and a free port, stopped at the end.

    Its AWS environment is its own (fixed test credentials, ``us-east-1``, ``AWS_ENDPOINT_URL``
    set, no profile or config file): nothing reaches AWS. ``ministack.deploy("cdk.out")``
    bootstraps on first use (once per session) and deploys with the CDK CLI found on
    ``PATH``; ``ministack.client("stepfunctions")`` gives boto3 clients. Wait states run at
    0.01 of their duration. Needs the ``[ministack]`` extra.
    """
    from .testing.ministack import MiniStack

    with MiniStack() as local:
        yield local


@pytest.fixture(scope="session")
def deployed_assembly(ministack: MiniStack, pytestconfig: pytest.Config) -> MiniStack:
    """The ``ministack`` fixture after ``cdk deploy --all`` of your synthesized ``cdk.out``.

    The assembly is ``--ministack-assembly`` or the ``ministack_assembly`` ini option
    (default ``cdk.out``, relative to the rootdir); synthesize it before the tests run.
    """
    path = pytestconfig.getoption(ASSEMBLY_OPTION) or pytestconfig.getini(ASSEMBLY_OPTION)
    assembly = Path(path)
    if not assembly.is_absolute():
        assembly = pytestconfig.rootpath / assembly
    ministack.deploy(assembly)
    return ministack
