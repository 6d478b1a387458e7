"""One place touches moto's internals: ``testing/moto_compat.py``, checked against moto itself.

The engine completes moto's Step Functions interpreter through moto's undocumented classes,
modules and attributes. Every one of them is imported or listed in the compatibility module;
these tests check that nothing else in the engine reaches moto, and that the installed moto
still has each symbol, naming the moto version and the symbol when one is gone.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

ENGINE = ROOT / "constructs" / "idempotent_workflows" / "testing"
COMPAT = ENGINE / "moto_compat.py"


def _is_moto(module: str | None) -> bool:
    return module is not None and (module == "moto" or module.startswith("moto."))


def moto_imports(source: str) -> list[tuple[str, str]]:
    """(module, name) of each ``from moto... import name`` and ``import moto...`` in a source."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_moto(node.module):
            found.extend((str(node.module), alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, "") for alias in node.names if _is_moto(alias.name))
    return found


def _importable(module: str, name: str) -> bool:
    try:
        imported = importlib.import_module(module)
    except ImportError:
        return False
    if not name or hasattr(imported, name):
        return True
    try:  # a submodule, such as ``from moto.stepfunctions import urls``
        importlib.import_module(f"{module}.{name}")
    except ImportError:
        return False
    return True


def missing_moto_symbols() -> list[str]:
    """Every moto symbol the engine uses that the installed moto lacks, as ``module.name``."""
    missing = [
        ".".join(part for part in pair if part)
        for pair in moto_imports(COMPAT.read_text())
        if not _importable(*pair)
    ]
    if missing:  # the compatibility module cannot be imported to read its list
        return missing
    from idempotent_workflows.testing import moto_compat

    return [internal.path for internal in moto_compat.INTERNALS if internal.missing()]


def incompatibility(missing: list[str]) -> str:
    return (
        f"moto {importlib.metadata.version('moto')} lacks what the local engine uses: "
        f"{', '.join(missing)}. Adapt constructs/idempotent_workflows/testing/moto_compat.py "
        "(its imports, or INTERNALS and the functions that read them), or install the moto "
        "version in constraints.txt."
    )


def test_every_moto_symbol_the_engine_uses_is_in_the_installed_moto():
    missing = missing_moto_symbols()
    assert not missing, incompatibility(missing)


def test_importing_the_engine_with_an_incompatible_moto_says_so():
    """What a user whose moto lacks a symbol sees: the version, the symbol, the way out."""
    probe = (
        "import moto.core.exceptions as exceptions; del exceptions.ServiceException; "
        "import idempotent_workflows.testing"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode != 0
    assert (
        f"ImportError: The local engine does not support moto {importlib.metadata.version('moto')}"
        ": cannot import name 'ServiceException' from 'moto.core.exceptions'"
    ) in result.stderr
    assert "adapt idempotent_workflows/testing/moto_compat.py" in result.stderr


def test_the_list_covers_each_kind_of_internal():
    """The listed internals are many, of every kind, each one distinct."""
    from idempotent_workflows.testing import moto_compat

    internals = moto_compat.INTERNALS
    assert len(internals) > 60
    assert len({(id(internal.owner), internal.name) for internal in internals}) == len(internals)
    assert {internal.kind for internal in internals} == {"attribute", "instance", "added"}
    assert len(moto_imports(COMPAT.read_text())) > 60


@pytest.mark.parametrize(
    ("module", "name", "path"),
    [
        (
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
            "state_task_service_callback",
            "StateTaskServiceCallback",
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
            "state_task_service_callback.StateTaskServiceCallback",
        ),
        ("moto.core.exceptions", "ServiceException", "moto.core.exceptions.ServiceException"),
    ],
)
def test_a_symbol_moto_removed_is_named_with_the_moto_version(monkeypatch, module, name, path):
    """What moto 5.2.6 did to ``AWSError``: the check names the version and the symbol."""
    monkeypatch.delattr(importlib.import_module(module), name)
    missing = missing_moto_symbols()
    assert missing == [path]
    message = incompatibility(missing)
    assert f"moto {importlib.metadata.version('moto')} lacks" in message and path in message


def test_an_attribute_moto_removed_is_named_with_the_moto_version(monkeypatch):
    from idempotent_workflows.testing import moto_compat

    waiting = moto_compat.StateTaskServiceCallback
    monkeypatch.delattr(waiting, "_eval_wait_for_task_token")
    assert missing_moto_symbols() == [
        f"{waiting.__module__}.StateTaskServiceCallback._eval_wait_for_task_token"
    ]


def test_an_instance_attribute_moto_no_longer_sets_is_named(monkeypatch):
    from idempotent_workflows.testing import moto_compat

    store = moto_compat.INTERNALS[
        [internal.name for internal in moto_compat.INTERNALS].index("_outer_scope")
    ]
    assert not store.missing()
    monkeypatch.setattr(store.owner, "__annotations__", {})
    monkeypatch.setattr(moto_compat, "_source", lambda owner: "self._renamed_scope = {}")
    assert store.missing()


def test_only_listed_internals_can_be_replaced():
    from idempotent_workflows.testing import moto_compat

    with pytest.raises(LookupError, match="StateTaskServiceCallback._eval_execution is not in"):
        moto_compat.replace(moto_compat.StateTaskServiceCallback, "_eval_execution", None)
    # A subclass that defines its own listed method is covered by its base's entry.
    sqs = moto_compat.state_task_service_sqs.StateTaskServiceSqs
    assert moto_compat.replace(sqs, "_from_error", None) is not None


# -- nothing else in the engine reaches moto ----------------------------------------------------


def moto_reaches(source: str) -> list[str]:
    """Where a module reaches moto other than through ``moto_compat``: line and what it does.

    An import of ``moto`` (or a string handed to ``import_module``), a private attribute of
    something taken from ``moto_compat``, or a ``mock.patch.object`` of it (``replace`` and
    ``wrap`` check the attribute is listed).
    """
    tree = ast.parse(source)
    from_compat = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("moto_compat")
        for alias in node.names
    }
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and moto_imports(ast.unparse(node)):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Call) and any(
            isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _is_moto(arg.value)
            for arg in node.args
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        target = node.args[0] if isinstance(node, ast.Call) and node.args else None
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("patch.object")
            and isinstance(target, ast.Name | ast.Attribute)
            and ast.unparse(target).split(".")[0] in from_compat
        ):
            found.append(f"line {node.lineno}: patches {ast.unparse(target)} without replace()")
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name | ast.Attribute)
            and ast.unparse(node.value).split(".")[0] in from_compat
        ):
            found.append(f"line {node.lineno}: reads {ast.unparse(node)}")
    return found


def test_engine_modules_reach_moto_only_through_moto_compat():
    modules = [path for path in ENGINE.rglob("*.py") if path != COMPAT]
    assert len(modules) > 20
    found = {
        str(path.relative_to(ROOT)): reaches
        for path in modules
        if (reaches := moto_reaches(path.read_text()))
    }
    assert not found, (
        f"These engine modules reach moto directly: {found}. Import from (and list in) "
        "idempotent_workflows/testing/moto_compat.py instead, so that a moto release costs "
        "one file."
    )


@pytest.mark.parametrize(
    "source",
    [
        "from moto.core.exceptions import AWSError",
        "import moto.backend_index",
        "from moto import mock_aws",
        "importlib.import_module('moto.sns.models')",
        "from ..moto_compat import ExecutionWorker\nExecutionWorker._execution_logic(worker)",
        "from ..moto_compat import StateTaskService\n"
        "mock.patch.object(StateTaskService, 'eval', None)",
    ],
)
def test_the_scan_finds_each_way_of_reaching_moto(source):
    assert moto_reaches(source)


def test_the_scan_lets_the_compatibility_module_be_used():
    source = (
        "from ..moto_compat import ExecutionWorker, replace, wrap\n"
        "replace(ExecutionWorker, 'start', None)\n"
        "mock.patch.object(boto3, 'DEFAULT_SESSION', None)\n"
        "from ..deploy.template import resolve\n"
    )
    assert moto_reaches(source) == []


def test_every_listed_internal_is_used_by_the_engine():
    """No entry outlives the code that needed it: each name appears in an engine module."""
    from idempotent_workflows.testing import moto_compat

    engine_text = "\n".join(
        path.read_text() for path in Path(ENGINE).rglob("*.py") if path != COMPAT
    )
    compat_functions = COMPAT.read_text().split("# -- moto's private attributes")[1]
    unused = [
        internal.path
        for internal in moto_compat.INTERNALS
        if f'"{internal.name}"' not in engine_text and f".{internal.name}" not in compat_functions
    ]
    dynamodb = {f'"{name}"' for name in moto_compat.DYNAMODB_ITEM_OPERATIONS}
    unused = [path for path in unused if f'"{path.rsplit(".", 1)[1]}"' not in dynamodb]
    assert not unused, f"Listed in INTERNALS but used nowhere: {unused}"
