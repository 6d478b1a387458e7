"""pytest fixture for the local engine.

Enable it in a ``conftest.py`` with
``pytest_plugins = ["idempotent_workflows.testing.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .engine import LocalEngine


@pytest.fixture
def local_engine() -> Iterator[LocalEngine]:
    """A fresh ``LocalEngine`` (empty in-process AWS, Wait states scaled by 0.001)."""
    with LocalEngine() as engine:
        yield engine
