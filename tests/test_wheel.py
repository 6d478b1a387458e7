"""The wheel is the product: built, installed (not editable) in fresh venvs, used from outside.

Declared ranges are tested ranges. The wheel and its ``testing`` extra are installed twice,
each time into a new venv outside the repository, and a user's app (tests/wheel_app) is
synthesized and run on the local engine from there:

- ``highest``: ``pip install '<wheel>[testing]'`` and nothing else, exactly as README tells a
  user (with the pip of constraints.txt): pip takes the newest version each range admits.
- ``lowest``: the same with a constraints file pinning every requirement of the wheel (its own
  and its ``testing`` extra's) at the lower bound it declares, read from the wheel's metadata,
  so that the list cannot drift from pyproject.toml.

In both, what those requirements need in turn resolves as pip resolves it for a user. Why pip
and generated constraints rather than uv's ``--resolution``: pip is the installer users run,
so ``highest`` is what they get today; uv's ``lowest-direct`` lowers only the requirements
named on its command line (here the wheel itself, checked: uv 0.13.9 installed the newest
aws-cdk-lib, moto and boto3), and ``lowest`` lowers every transitive dependency as well, to
versions this library never declared; and uv would be one more tool to pin.

The ``ministack`` extra is not installed here: its one requirement is a single version (the
engine patches it), the one the suite's MiniStack tests run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, only_definition
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

APP = Path(__file__).resolve().parent / "wheel_app"
#: What `make` keeps out of a build: environments, caches and outputs.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "cdk.out", "build", "*.egg-info", "__pycache__", ".*_cache"
)
#: Dependencies whose internals the engine patches: their ranges must end at a tested version.
PATCHED = {"moto", "airspeed-ext", "ministack"}


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def requirements(wheel: Path, extra: str | None = "testing") -> list[Requirement]:
    """The wheel's own requirements and those of ``extra`` (``None``: of every extra)."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    found = []
    for line in lines:
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.removeprefix("Requires-Dist:").strip())
            marker = requirement.marker
            if marker is None or extra is None or marker.evaluate({"extra": extra}):
                found.append(requirement)
    return [r for r in found if canonicalize_name(r.name) != "idempotent-workflows"]


def lower_bound(requirement: Requirement) -> str:
    (lowest,) = [s.version for s in requirement.specifier if s.operator in (">=", "==")]
    return lowest


def pinned() -> dict[str, str]:
    """The exact versions of constraints.txt, by canonical name."""
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return {canonicalize_name(n): v for n, _, v in (line.partition("==") for line in lines) if v}


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


def test_every_declared_range_has_a_lowest_end_and_patched_ones_a_tested_highest(wheel):
    """What the lowest resolution pins exists; a patched dependency admits no untested release.

    The pinned development versions lie inside every range, so the suite runs a combination
    the ranges admit.
    """
    declared = requirements(wheel, extra=None)
    assert {canonicalize_name(r.name) for r in declared} >= {"aws-cdk-lib", "moto", *PATCHED}
    versions = pinned()
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert lower_bound(requirement), f"{requirement}: declare a lower bound (>=)"
        assert requirement.specifier.contains(versions[name]), (requirement, versions[name])
        if name in PATCHED:
            operators = {s.operator for s in requirement.specifier}
            assert operators & {"<=", "=="}, (
                f"{requirement}: the engine patches {name}, so its range must end at the newest"
                " version tested (<=), not admit releases nobody ran"
            )


@pytest.mark.parametrize("resolution", ["lowest", "highest"])
def test_a_users_app_runs_from_the_installed_wheel(wheel, tmp_path, resolution, record_property):
    """Fresh venv outside the repo, wheel[testing] at one end of its ranges, app and tests."""
    venv = tmp_path / "venv"
    # No pip of its own: the suite's pip (constraints.txt) installs into it, as it would
    # into a user's environment.
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = str(venv / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python]
    declared = requirements(wheel)
    lowest = {canonicalize_name(r.name): lower_bound(r) for r in declared}
    constraints = tmp_path / "lowest.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in lowest.items()))
    install = [*pip, "install", "-q", "--no-compile", f"{wheel}[testing]"]
    run(install + (["-c", str(constraints)] if resolution == "lowest" else []), tmp_path)
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
    # The operator's console script comes with the wheel.
    assert "--reason" in run([str(venv / "bin" / "idempotent-workflows"), "release", "-h"], project)
    frozen = run([*pip, "list", "--format=freeze"], project)
    installed = {
        canonicalize_name(name): version
        for name, _, version in (line.partition("==") for line in frozen.splitlines())
    }
    shown = sorted({*lowest, "botocore", "jsii"})  # and what boto3 and aws-cdk-lib run on
    versions = ", ".join(f"{name} {installed[name]}" for name in shown)
    record_property("resolved", versions)  # printed at the end of the run (conftest)
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert requirement.specifier.contains(installed[name]), (resolution, versions)
        if resolution == "lowest":
            assert Version(installed[name]) == Version(lowest[name]), (resolution, versions)
        else:  # never older than what the suite runs with: pip did not settle for less
            assert Version(installed[name]) >= Version(pinned()[name]), (resolution, versions)
    # The tests synthesize the app (LocalEngine.deploy) and run it through the plugin's fixture.
    # npm jsonata, the engine's JSONata, comes as a user gets it: installed into the user's
    # cache at the first test (highest), or ahead of time with the documented command (lowest).
    cache = tmp_path / ".cache" / "idempotent-workflows" / "jsonata-2.0.6" / "node_modules"
    if resolution == "lowest":
        installed_ahead = run([python, "-m", "idempotent_workflows.testing.jsonata"], project, env)
        assert f"jsonata 2.0.6: {cache}" in installed_ahead
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{resolution} ({versions}):\n{result.stdout[-5000:]}"
    assert "2 passed" in result.stdout
    assert (cache / "jsonata" / "package.json").is_file()


def test_the_runtime_client_runs_from_the_wheel_without_its_dependencies(
    wheel, tmp_path, example_stacks
):
    """README's Lambda recipe: ``pip install --no-deps`` the wheel, plus boto3 (which a Lambda
    runtime has): the client starts a workflow and answers a duplicate, aws-cdk-lib absent."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = str(venv / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile"]
    run([*pip, "--no-deps", str(wheel)], tmp_path)
    run([*pip, "-c", str(ROOT / "constraints.txt"), "boto3"], tmp_path)
    missing = run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('aws_cdk'))"], tmp_path
    )
    assert missing.strip() == "None"
    definition = json.dumps(only_definition(example_stacks["TransactionStandard"]))
    result = subprocess.run(
        [python, str(APP.parent / "runtime_app" / "check_client.py")],
        cwd=tmp_path,
        input=definition,
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []  # nothing of the CDK loaded


def test_the_testing_package_names_the_missing_extra():
    blocked = "import sys; sys.modules['moto'] = None; import idempotent_workflows.testing"
    result = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert result.returncode != 0
    assert (
        "idempotent_workflows.testing needs the [testing] extra, which is not installed "
        "(missing: moto): pip install 'idempotent-workflows[testing]'"
    ) in result.stderr
