"""The wheel is the product: built, installed (not editable) in a fresh venv, used from outside.

The venv gets the oldest aws-cdk-lib and constructs that the wheel's metadata admits, so the
declared lower bounds are tested, not assumed; everything else comes from constraints.txt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from packaging.requirements import Requirement

APP = Path(__file__).resolve().parent / "wheel_app"
#: What `make` keeps out of a build: environments, caches and outputs.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "cdk.out", "build", "*.egg-info", "__pycache__", ".*_cache"
)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def lower_bounds(wheel: Path) -> dict[str, str]:
    """The oldest version of each core dependency the wheel's metadata admits (``>=``)."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    bounds = {}
    for line in lines:
        if line.startswith("Requires-Dist:") and "extra ==" not in line:
            requirement = Requirement(line.removeprefix("Requires-Dist:").strip())
            (lowest,) = [s.version for s in requirement.specifier if s.operator == ">="]
            bounds[requirement.name] = lowest
    return bounds


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the working tree (the build writes nothing here)."""
    source = tmp_path_factory.mktemp("source") / "idempotent-workflows"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_SOURCES)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), "."], source)
    (built,) = dist.glob("idempotent_workflows-*.whl")
    return built


def test_the_wheel_carries_the_handlers_and_the_typing_marker(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for handler in sorted((ROOT / "lambdas").glob("*/*.py")):
        assert f"idempotent_workflows/lambdas/{handler.parent.name}/{handler.name}" in names
    assert "idempotent_workflows/py.typed" in names
    # The engine's JSONata: its Node script and the lock of the npm jsonata it installs.
    jsonata = "idempotent_workflows/testing/jsonata/"
    for shipped in ("step_functions.js", "npm/package.json", "npm/package-lock.json"):
        assert jsonata + shipped in names
    assert not [n for n in names if "node_modules" in n]
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


def test_the_declared_ranges_admit_the_pinned_versions_and_one_minor_lower(wheel):
    bounds = lower_bounds(wheel)
    assert set(bounds) == {"aws-cdk-lib", "constructs"}
    pinned = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    )
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [
            Requirement(line.removeprefix("Requires-Dist:").strip())
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        ]
    for requirement in requires:
        assert requirement.specifier.contains(pinned[requirement.name])
    (cdk,) = [r for r in requires if r.name == "aws-cdk-lib"]
    major, minor, _ = pinned["aws-cdk-lib"].split(".")
    assert cdk.specifier.contains(f"{major}.{int(minor) - 1}.0")
    assert not cdk.specifier.contains("3.0.0")


def test_a_users_app_runs_from_the_installed_wheel(wheel, tmp_path):
    """Fresh venv, wheel[testing] at the oldest declared CDK, app and tests in a temp folder."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = str(venv / "bin" / "python")
    bounds = lower_bounds(wheel)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(
        "\n".join(
            line
            for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.split("==")[0] not in bounds
        )
        + "".join(f"\n{name}=={version}" for name, version in bounds.items())
    )
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "-c",
            str(constraints),
            f"{wheel}[testing]",
        ],
        tmp_path,
    )
    project = tmp_path / "payments"
    shutil.copytree(APP, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "check_payments.py").rename(project / "test_payments.py")
    # No repo on sys.path, no user AWS settings; Node (for jsii) from the pinned package.
    env = {
        "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        # The engine installs npm jsonata into HOME's cache at first use: npm needs the same
        # TLS and proxy settings as pip had (a CA for an intercepting proxy on some machines).
        **{
            name: value
            for name, value in os.environ.items()
            if name in ("NODE_EXTRA_CA_CERTS", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")
            or name.lower().startswith("npm_config_")
        },
    }
    where = run([python, "-c", "import idempotent_workflows as m; print(m.__file__)"], project, env)
    assert Path(where.strip()).is_relative_to(venv)
    versions = run([python, "-m", "pip", "list", "--format=freeze"], project, env)
    assert f"aws-cdk-lib=={bounds['aws-cdk-lib']}" in versions.splitlines()
    # The tests synthesize the app (LocalEngine.deploy) and run it through the plugin's fixture.
    output = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, env)
    assert "1 passed" in output
    # The engine installed npm jsonata at first use, into the user's cache, as for any user.
    cache = tmp_path / ".cache" / "idempotent-workflows" / "jsonata-2.0.6"
    assert (cache / "node_modules" / "jsonata" / "package.json").is_file()


def test_the_testing_package_names_the_missing_extra():
    blocked = "import sys; sys.modules['moto'] = None; import idempotent_workflows.testing"
    result = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert result.returncode != 0
    assert (
        "idempotent_workflows.testing needs the [testing] extra, which is not installed "
        "(missing: moto): pip install 'idempotent-workflows[testing]'"
    ) in result.stderr
