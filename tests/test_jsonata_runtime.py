"""Where the engine's JSONata runs: Node and npm jsonata found, installed once, failing by name.

The install tests reach the npm registry (an install, as a user's first test run does); the
rest use a temporary cache, a fake ``node`` or an empty ``PATH``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT

from idempotent_workflows.testing.jsonata import evaluator, runtime
from idempotent_workflows.testing.jsonata.evaluator import (
    JSONataEvaluationError,
    JSONataEvaluator,
    JSONataProcessError,
)
from idempotent_workflows.testing.jsonata.runtime import JSONataRuntimeMissing, Runtime

REPOSITORY_NODE_MODULES = ROOT / "node_modules"


@pytest.fixture
def user_cache(tmp_path, monkeypatch):
    """A user without an explicit node_modules, whose cache is empty."""
    monkeypatch.delenv("IDEMPOTENT_WORKFLOWS_NODE_MODULES", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "idempotent-workflows" / f"jsonata-{runtime.JSONATA_VERSION}"


def executable(path: Path, script: str) -> str:
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_the_wheels_lock_pins_the_jsonata_this_repository_tests_with():
    """One jsonata everywhere: the version and tarball hash in the wheel's lock are the ones
    package-lock.json installs for the suite (and package.json pins)."""
    shipped = json.loads((runtime.NPM_PROJECT / "package-lock.json").read_text())
    developed = json.loads((ROOT / "package-lock.json").read_text())
    entry = shipped["packages"]["node_modules/jsonata"]
    assert entry["version"] == runtime.JSONATA_VERSION == "2.0.6"
    assert entry["integrity"] == developed["packages"]["node_modules/jsonata"]["integrity"]
    assert set(shipped["packages"]) == {"", "node_modules/jsonata"}  # no dependencies
    package = json.loads((ROOT / "package.json").read_text())
    assert package["devDependencies"]["jsonata"] == runtime.JSONATA_VERSION


def test_node_is_found_in_the_documented_order(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    executable(tmp_path / "node", "#!/bin/sh\n")
    monkeypatch.delenv("IDEMPOTENT_WORKFLOWS_NODE", raising=False)
    monkeypatch.delenv("JSII_NODE", raising=False)
    assert runtime.find_node() == str(tmp_path / "node")
    monkeypatch.setenv("JSII_NODE", "/jsii/node")
    assert runtime.find_node() == "/jsii/node"
    monkeypatch.setenv("IDEMPOTENT_WORKFLOWS_NODE", "/chosen/node")
    assert runtime.find_node() == "/chosen/node"


def test_without_node_the_engine_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("IDEMPOTENT_WORKFLOWS_NODE", raising=False)
    monkeypatch.delenv("JSII_NODE", raising=False)
    with pytest.raises(JSONataRuntimeMissing, match="found no Node") as raised:
        JSONataEvaluator().start()
    assert "Install Node 18 or later" in str(raised.value)
    assert "IDEMPOTENT_WORKFLOWS_NODE" in str(raised.value)


@pytest.mark.parametrize("version", [None, "2.1.0"])
def test_an_explicit_node_modules_must_hold_jsonata_2_0_6(monkeypatch, tmp_path, version):
    if version:
        (tmp_path / "jsonata").mkdir()
        (tmp_path / "jsonata" / "package.json").write_text(json.dumps({"version": version}))
    monkeypatch.setenv("IDEMPOTENT_WORKFLOWS_NODE_MODULES", str(tmp_path))
    held = f"jsonata {version}" if version else "no jsonata"
    with pytest.raises(JSONataRuntimeMissing, match=f"holds {held}, expected jsonata 2.0.6"):
        runtime.locate_runtime()


def test_without_npm_the_engine_says_how_to_install_jsonata(user_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm there
    monkeypatch.delenv("IDEMPOTENT_WORKFLOWS_NPM", raising=False)
    with pytest.raises(JSONataRuntimeMissing, match="no `npm` is on PATH") as raised:
        runtime.installed_jsonata()
    assert "npm install --prefix DIR jsonata@2.0.6" in str(raised.value)
    assert not user_cache.exists()


def test_an_unreachable_registry_fails_with_npms_reason(user_cache, monkeypatch, tmp_path):
    """npm's own error, and the two ways out; nothing half-installed stays behind."""
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "empty-npm-cache"))
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    with pytest.raises(
        JSONataRuntimeMissing, match="Could not install npm jsonata 2.0.6"
    ) as raised:
        runtime.installed_jsonata()
    message = str(raised.value)
    assert "npm ci exited" in message and "ECONNREFUSED" in message
    assert "python -m idempotent_workflows.testing.jsonata" in message
    assert "IDEMPOTENT_WORKFLOWS_NODE_MODULES" in message
    assert [p.name for p in user_cache.parent.iterdir()] == [f"{user_cache.name}.lock"]


def test_the_first_use_installs_jsonata_once_however_many_start_together(
    user_cache, monkeypatch, tmp_path
):
    """Three engines starting at once (pytest-xdist workers): one npm ci, then the cache."""
    calls = tmp_path / "npm-calls"
    npm = subprocess.run(["which", "npm"], capture_output=True, text=True, check=True)
    counting = f'#!/bin/sh\necho "$@" >> {calls}\nexec {npm.stdout.strip()} "$@"\n'
    monkeypatch.setenv("IDEMPOTENT_WORKFLOWS_NPM", executable(tmp_path / "npm", counting))
    found: list[Path] = []
    threads = [
        threading.Thread(target=lambda: found.append(runtime.installed_jsonata())) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [user_cache / "node_modules"] * 3
    assert calls.read_text().splitlines() == [
        "ci --ignore-scripts --no-audit --no-fund --loglevel=error"
    ]
    assert runtime.installed_version(user_cache / "node_modules") == "2.0.6"
    # and the engine evaluates with it
    node = runtime.find_node()
    with_cache = JSONataEvaluator(Runtime(node, user_cache / "node_modules"))
    try:
        assert with_cache.fields({}, [("Output", "{% $hash('a', 'MD5') %}")]) == [
            "0cc175b9c0f1b6a831c399e269772661"
        ]
    finally:
        with_cache.close()


def test_the_install_ahead_of_time_prints_where_node_and_jsonata_are():
    ran = subprocess.run(
        [sys.executable, "-m", "idempotent_workflows.testing.jsonata"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "IDEMPOTENT_WORKFLOWS_NODE_MODULES": str(REPOSITORY_NODE_MODULES)},
    )
    assert f"jsonata 2.0.6: {REPOSITORY_NODE_MODULES}" in ran.stdout
    assert "node: " in ran.stdout


def test_a_node_too_old_is_refused_by_name(tmp_path):
    old = executable(
        tmp_path / "node",
        '#!/bin/sh\necho \'{"ready": {"node": "v16.20.2", "jsonata": "2.0.6"}}\'\ncat >/dev/null\n',
    )
    with pytest.raises(JSONataProcessError, match="Node v16.20.2 .* too old .* expected 18"):
        JSONataEvaluator(Runtime(old, REPOSITORY_NODE_MODULES)).start()


def test_a_process_that_dies_on_a_request_fails_it_with_its_last_words(tmp_path):
    dying = executable(
        tmp_path / "node",
        '#!/bin/sh\necho \'{"ready": {"node": "v22.0.0"}}\'\nread line\n'
        "echo 'FATAL ERROR: Reached heap limit' >&2\nexit 3\n",
    )
    own = JSONataEvaluator(Runtime(dying, REPOSITORY_NODE_MODULES))
    with pytest.raises(JSONataEvaluationError, match="ended \\(exit 3\\): FATAL ERROR: Reached"):
        own.fields({}, [("Output", "{% 1 %}")])


def test_a_process_that_hangs_or_dies_fails_the_state_and_is_started_again(monkeypatch):
    monkeypatch.setattr(evaluator, "REQUEST_TIMEOUT_SECONDS", 0.3)
    own = JSONataEvaluator()
    try:
        with pytest.raises(JSONataEvaluationError, match="Expression evaluation timeout"):
            # A tail call: jsonata loops forever in constant memory.
            own.fields(
                {}, [("Output", "{% ($forever := function() { $forever() }; $forever()) %}")]
            )
        assert own.fields({"x": 1}, [("Output", "{% $x %}")]) == [1]
        own._process.popen.kill()  # type: ignore[union-attr]
        own._process.popen.wait()  # type: ignore[union-attr]
        assert own.fields({"x": 2}, [("Output", "{% $x %}")]) == [2]
    finally:
        own.close()
