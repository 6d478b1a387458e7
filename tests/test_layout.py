"""The repository layout that keeps the `constructs` distribution importable."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path

from conftest import ROOT


def test_constructs_resolves_to_site_packages():
    spec = importlib.util.find_spec("constructs")
    assert spec is not None and spec.origin is not None
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert Path(spec.origin).resolve().is_relative_to(site_packages)
    import constructs

    assert hasattr(constructs, "Construct")


def test_constructs_folder_is_a_source_root_only():
    source_root = ROOT / "constructs"
    assert not (source_root / "__init__.py").exists()
    assert not list(source_root.glob("*.py"))
    assert (source_root / "idempotent_workflows" / "__init__.py").is_file()


def test_library_is_imported_from_the_source_root():
    import idempotent_workflows

    assert Path(idempotent_workflows.__file__).resolve().is_relative_to(ROOT / "constructs")


def test_the_library_never_imports_the_testing_engine():
    """Constructs and examples import without moto or boto3: the engine is the testing extra."""
    probe = (
        "import sys, idempotent_workflows, idempotent_workflows.examples;"
        "loaded = [m for m in ('moto', 'boto3', 'jsonata', 'idempotent_workflows.testing')"
        " if m in sys.modules]; print(loaded)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_the_handlers_reach_the_package_through_a_link():
    link = ROOT / "constructs" / "idempotent_workflows" / "lambdas"
    assert link.is_symlink() and link.resolve() == ROOT / "lambdas"


def test_the_pytest_plugin_loads_without_aws_cdk():
    """Every pytest run loads the plugin: it must not start aws-cdk-lib's Node process."""
    probe = "import sys, idempotent_workflows.pytest_plugin; print('aws_cdk' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_every_public_name_resolves():
    import idempotent_workflows

    for name in idempotent_workflows.__all__:
        assert getattr(idempotent_workflows, name) is not None
    assert set(idempotent_workflows.__all__) == {*idempotent_workflows._EXPORTS, "__version__"}
