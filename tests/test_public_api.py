"""The public API is what ``idempotent_workflows`` exports; the examples use nothing else."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys

import pytest
from conftest import ROOT, template_json

import idempotent_workflows
import idempotent_workflows.runtime
from idempotent_workflows import IdempotencyError

PACKAGE = ROOT / "constructs" / "idempotent_workflows"
#: An error name of the library in a template: ``Idempotency.LockLost``, ``Transaction.X``.
ERROR_NAME = re.compile(r"\b(?:Idempotency|Transaction)\.[A-Za-z]+")


def library_imports(source: str, package: str) -> list[tuple[str, tuple[str, ...]]]:
    """``(module, names)`` of each import of the library in ``source``, a module of ``package``."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*parts, *([node.module] if node.module else [])])
            found.append((module, tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
    return [(module, names) for module, names in found if module.startswith("idempotent_workflows")]


def beyond_the_public_api(imports: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """What the imports take beyond the exported names, the runtime's, the examples and the
    engine."""
    beyond = []
    for module, names in imports:
        if module == "idempotent_workflows":
            beyond += [name for name in names if name not in idempotent_workflows.__all__]
        elif module == "idempotent_workflows.runtime":  # a public package of its own
            beyond += [name for name in names if name not in idempotent_workflows.runtime.__all__]
        elif not module.startswith(
            ("idempotent_workflows.examples", "idempotent_workflows.testing")
        ) or any(part == "private" or part.startswith("_") for part in module.split(".")):
            beyond.append(module)
    return beyond


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "examples").glob("*.py")), ids=lambda path: path.name
)
def test_examples_use_only_the_public_api(path):
    """As a user's app would: names the package exports, never a module of the library."""
    imports = library_imports(path.read_text(), "idempotent_workflows.examples")
    assert imports, "every example uses the library"
    assert beyond_the_public_api(imports) == []


def test_the_check_sees_an_import_beyond_the_public_api():
    source = (
        "from .. import IdempotentWorkflow, _EXPORTS\n"
        "from ..private.checks import fail\n"
        "from ..workflow import execution_logs\n"
        "from ..testing._internal import x\n"
        "from .order_flow import OrderFlowStack\n"
        "import idempotent_workflows.testing\n"
    )
    imports = library_imports(source, "idempotent_workflows.examples")
    assert beyond_the_public_api(imports) == [
        "_EXPORTS",
        "idempotent_workflows.private.checks",
        "idempotent_workflows.workflow",
        "idempotent_workflows.testing._internal",
    ]


@pytest.mark.parametrize(
    "path",
    sorted([*PACKAGE.glob("*.py"), *(PACKAGE / "private").glob("*.py")]),
    ids=lambda path: path.relative_to(PACKAGE).as_posix(),
)
def test_the_library_never_imports_the_examples(path):
    """They are built on the library (test_engine_layout.py holds the engine's line)."""
    package = ".".join(path.relative_to(ROOT / "constructs").parent.parts)
    modules = [module for module, _ in library_imports(path.read_text(), package)]
    assert not [module for module in modules if module.startswith("idempotent_workflows.examples")]


def test_no_public_name_is_defined_in_a_private_module():
    assert idempotent_workflows._EXPORTS
    exports = idempotent_workflows._EXPORTS
    assert not [name for name, module in exports.items() if "private" in module]


def test_dir_lists_the_public_names_without_importing_aws_cdk():
    """``dir()`` shows the API; the names are still imported only on first use."""
    probe = (
        "import json, sys, idempotent_workflows as package;"
        "print(json.dumps([dir(package), package.__all__, 'aws_cdk' in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    names, exported, cdk_loaded = json.loads(result.stdout)
    assert not cdk_loaded, result.stderr
    assert [name for name in names if not name.startswith("_")] == sorted(
        set(exported) - {"__version__"}
    )
    assert "IdempotentWorkflow" in names and "__version__" in names


def test_every_error_name_in_the_templates_is_one_of_the_enum(example_stacks):
    """No error name is spelled outside ``IdempotencyError``, and none of it goes unused."""
    found = set()
    for stack in example_stacks.values():
        found |= set(ERROR_NAME.findall(json.dumps(template_json(stack))))
    assert found == {error.value for error in IdempotencyError}
