"""The engine is a room of its own: the library never enters it, users use its front door.

``idempotent_workflows.testing`` (the ``[testing]`` extra) exports its public API; its
sub-packages are internals that only tests of the engine itself import.
"""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "constructs" / "idempotent_workflows"
ENGINE = PACKAGE / "testing"
#: What may import the engine from inside the package: its pytest plugin (the fixtures, imported
#: lazily) and the two demos that run the example stacks on it (``make run``).
ENGINE_USERS = {
    PACKAGE / "pytest_plugin.py",
    PACKAGE / "examples" / "demo.py",
    PACKAGE / "examples" / "deployed_demo.py",
}
#: Where code outside the engine may import it from.
FRONT_DOORS = {"idempotent_workflows.testing", "idempotent_workflows.testing.ministack"}


def engine_imports(path: Path) -> list[str]:
    """The engine modules a file imports, as absolute module names."""
    inside = path.is_relative_to(PACKAGE)  # relative imports only happen inside the package
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts if inside else ()
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level] if node.level else ()
            module = ".".join([*base, *filter(None, [node.module])])
            names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if name.startswith("idempotent_workflows.testing")]
    return found


def test_the_library_never_imports_the_engine():
    """Constructs import nothing of the engine, not even lazily; only its users do."""
    library = [
        path
        for path in PACKAGE.rglob("*.py")
        if not path.is_relative_to(ENGINE) and path not in ENGINE_USERS
    ]
    assert len(library) > 20
    importing = {str(p.relative_to(ROOT)): found for p in library if (found := engine_imports(p))}
    assert not importing, f"Library modules import the local engine: {importing}"


def test_the_engines_users_outside_it_import_its_front_doors_only():
    """Examples, the plugin, the benchmark and the docs use the public API, not internals."""
    users = [*ENGINE_USERS, *(ROOT / "bench").glob("*.py"), *(ROOT / "docs").glob("*.py")]
    inside = {
        str(path.relative_to(ROOT)): [name for name in found if name not in FRONT_DOORS]
        for path in users
        if (found := engine_imports(path))
    }
    assert {path: names for path, names in inside.items() if names} == {}
    assert "constructs/idempotent_workflows/examples/demo.py" in inside  # the scan sees them


def documented_public_names() -> set[str]:
    """The names in the first column of docs/engine.md's table of the public API."""
    text = (ROOT / "docs" / "engine.md").read_text()
    table = text.split("## Public API and layout")[1].split("\n\n")[2]
    rows = [line.split("|")[1] for line in table.splitlines()[2:]]
    return {name for row in rows for name in re.findall(r"`(\w+)`", row)}


def test_the_engine_exports_what_its_docs_list():
    import idempotent_workflows.testing as engine
    from idempotent_workflows.testing import ministack

    assert set(engine.__all__) | set(ministack.__all__) == documented_public_names()
    assert all(getattr(engine, name) is not None for name in engine.__all__)
    assert all(getattr(ministack, name) is not None for name in ministack.__all__)
    # One result type: MiniStack's executions are the engine's.
    assert typing.get_type_hints(ministack.run_execution)["return"] is engine.Execution
