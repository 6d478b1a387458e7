"""pytest plugin of idempotent-workflows: the ``local_engine`` fixture.

Registered through the ``pytest11`` entry point, so installing the package is enough. The
engine itself is imported only when a test uses the fixture: it needs the ``[testing]`` extra,
and a project that installed the library without it still runs pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import LocalEngine


@pytest.fixture
def local_engine() -> Iterator[LocalEngine]:
    """A fresh ``LocalEngine`` (empty in-process AWS, Wait states scaled by 0.001)."""
    from .testing import LocalEngine

    with LocalEngine() as engine:
        yield engine
