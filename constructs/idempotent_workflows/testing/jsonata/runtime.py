"""Where the local engine's JSONata runs: a Node executable and npm jsonata 2.0.6.

The wheel carries ``npm/package.json`` and its ``package-lock.json`` (jsonata 2.0.6 and the
registry's integrity hash of its tarball; jsonata has no dependencies), not jsonata itself.

Node, in this order: ``IDEMPOTENT_WORKFLOWS_NODE``; ``JSII_NODE`` (the Node the CDK app's
jsii runtime uses); ``node`` on ``PATH``.

jsonata, in this order: ``IDEMPOTENT_WORKFLOWS_NODE_MODULES``, a ``node_modules`` folder that
already holds jsonata 2.0.6 (this repository's Makefile points it at the repository's own);
else the user cache, ``$XDG_CACHE_HOME/idempotent-workflows/jsonata-2.0.6`` (default
``~/.cache/...``), where the first use installs the lock with ``npm ci --ignore-scripts`` (npm:
``IDEMPOTENT_WORKFLOWS_NPM``, else ``npm`` on ``PATH``): under a file lock, since pytest-xdist
workers start together, and into a temporary folder renamed into place, so that a half-done
install is never used. Later runs find it and never reach the network.

``python -m idempotent_workflows.testing.jsonata`` installs it ahead of time (a CI image,
a machine about to go offline) and prints where Node and jsonata were found.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: The npm project the engine installs: jsonata, pinned by the lock next to it.
NPM_PROJECT: Final = Path(__file__).with_name("npm")
JSONATA_VERSION: Final[str] = json.loads((NPM_PROJECT / "package.json").read_text())[
    "dependencies"
]["jsonata"]
#: The oldest Node that runs ``step_functions.js`` (``Object.hasOwn``, ``crypto.randomUUID``).
MIN_NODE_MAJOR: Final = 18
#: How long an install may take (npm's own network retries included), in seconds.
INSTALL_TIMEOUT_SECONDS: Final = 300
_NPM_ERROR: Final = re.compile(r"npm (error|ERR!) ?")


class JSONataRuntimeMissing(RuntimeError):
    """Node or npm jsonata is missing and could not be installed; the message says what to do."""


@dataclass(frozen=True)
class Runtime:
    """A Node executable and the ``node_modules`` folder that holds jsonata 2.0.6."""

    node: str
    node_modules: Path


def find_node() -> str:
    """The Node executable (module docstring's order).

    Raises
    ------
    JSONataRuntimeMissing
        If none is set and none is on ``PATH``.
    """
    node = (
        os.environ.get("IDEMPOTENT_WORKFLOWS_NODE")
        or os.environ.get("JSII_NODE")
        or shutil.which("node")
    )
    if not node:
        raise JSONataRuntimeMissing(
            "The local engine evaluates JSONata with npm jsonata "
            f"{JSONATA_VERSION} on Node, as Step Functions implements it, and found no Node: "
            "IDEMPOTENT_WORKFLOWS_NODE and JSII_NODE are unset and no `node` is on PATH. "
            f"Install Node {MIN_NODE_MAJOR} or later (the one the CDK CLI runs on will do), or "
            "set IDEMPOTENT_WORKFLOWS_NODE to a node executable."
        )
    return node


def installed_version(node_modules: Path) -> str | None:
    """The version of the jsonata package in ``node_modules``, or ``None`` if there is none."""
    package = node_modules / "jsonata" / "package.json"
    if not package.is_file():
        return None
    version: str = json.loads(package.read_text())["version"]
    return version


def cache_dir() -> Path:
    """Where the engine installs jsonata: under ``$XDG_CACHE_HOME``, else ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "idempotent-workflows" / f"jsonata-{JSONATA_VERSION}"


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (other processes wait for it)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as handle:
        if sys.platform == "win32":  # pragma: no cover - not run on this project's CI
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _npm() -> str:
    npm = os.environ.get("IDEMPOTENT_WORKFLOWS_NPM") or shutil.which("npm")
    if not npm:
        raise JSONataRuntimeMissing(
            f"The local engine needs npm jsonata {JSONATA_VERSION} and installs it once with npm,"
            " but IDEMPOTENT_WORKFLOWS_NPM is unset and no `npm` is on PATH. Install Node.js with"
            f" npm, or install jsonata yourself (`npm install --prefix DIR jsonata@"
            f"{JSONATA_VERSION}`) and set IDEMPOTENT_WORKFLOWS_NODE_MODULES=DIR/node_modules."
        )
    return npm


def _npm_ci(npm: str, folder: Path) -> None:
    """``npm ci`` the engine's npm project in ``folder``; raise naming npm's own reason."""
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            command, cwd=folder, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS
        )
        reason = "" if done.returncode == 0 else f"npm ci exited {done.returncode}"
        said = (done.stderr or done.stdout).strip().splitlines()
    except (OSError, subprocess.TimeoutExpired) as error:
        reason, said = f"npm ci did not complete: {error}", []
    if not reason and installed_version(folder / "node_modules") != JSONATA_VERSION:
        reason = "npm ci left no jsonata behind"
    if reason:
        # npm 10 and later write "npm error ...", older ones "npm ERR! ...".
        errors = [_NPM_ERROR.sub("", line) for line in said if _NPM_ERROR.match(line)]
        raise JSONataRuntimeMissing(
            f"Could not install npm jsonata {JSONATA_VERSION}, the JSONata Step Functions "
            f"implements, into {cache_dir()}: {reason}"
            + (": " + " | ".join(errors[:3]) if errors else "")
            + ". The local engine needs the npm registry once: run `python -m "
            "idempotent_workflows.testing.jsonata` where it is reachable (npm reads your "
            "registry, proxy and CA settings), or set IDEMPOTENT_WORKFLOWS_NODE_MODULES to a "
            f"node_modules that holds jsonata {JSONATA_VERSION}."
        )


def installed_jsonata() -> Path:
    """The ``node_modules`` of the user cache, jsonata 2.0.6 installed into it if needed.

    Raises
    ------
    JSONataRuntimeMissing
        If npm is missing or the install fails.
    """
    target = cache_dir()
    if installed_version(target / "node_modules") == JSONATA_VERSION:
        return target / "node_modules"
    with _exclusive(target.with_name(target.name + ".lock")):
        if installed_version(target / "node_modules") == JSONATA_VERSION:
            return target / "node_modules"  # another process installed it meanwhile
        npm = _npm()
        staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
        try:
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(NPM_PROJECT / name, staging / name)
            _npm_ci(npm, staging)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target / "node_modules"


def locate_runtime() -> Runtime:
    """Node and a node_modules holding jsonata 2.0.6 (module docstring's order).

    Raises
    ------
    JSONataRuntimeMissing
        If Node is missing, ``IDEMPOTENT_WORKFLOWS_NODE_MODULES`` holds no jsonata 2.0.6, or
        the install into the user cache fails.
    """
    node = find_node()
    explicit = os.environ.get("IDEMPOTENT_WORKFLOWS_NODE_MODULES")
    if not explicit:
        return Runtime(node, installed_jsonata())
    version = installed_version(Path(explicit))
    if version != JSONATA_VERSION:
        raise JSONataRuntimeMissing(
            f"IDEMPOTENT_WORKFLOWS_NODE_MODULES={explicit} holds "
            f"{'no jsonata' if version is None else 'jsonata ' + version}, expected jsonata "
            f"{JSONATA_VERSION} (the version Step Functions implements): install it there "
            f"(`npm install --prefix {Path(explicit).parent} jsonata@{JSONATA_VERSION}`), or "
            "unset the variable to let the engine install its own copy."
        )
    return Runtime(node, Path(explicit))


def main() -> None:
    """Find Node and jsonata, installing jsonata into the user cache if needed; print both."""
    try:
        runtime = locate_runtime()
    except JSONataRuntimeMissing as error:
        sys.exit(str(error))
    print(f"node: {runtime.node}\njsonata {JSONATA_VERSION}: {runtime.node_modules}")
