"""Docs that cannot lie: every Python block of README.md and docs/*.md is a snippet file that runs.

The files live in docs/snippets/, a user's project: a doc's Python block is preceded by
``<!-- snippet: docs/snippets/<file>.py -->`` and shows that whole file, or by
``<!-- snippet: docs/snippets/<file>.py#<name> -->`` and shows the lines between
``# snippet: <name>`` and ``# end snippet`` in it, dedented. A fragment (a construct call
inside a stack, a ``with`` block inside a test) is thus shown from a file that gives it its
scope and the names it uses, and tests what it does. The project runs as a user runs it:
pytest in its own folder, with the package's fixtures, and mypy strict.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import ROOT

SNIPPETS = ROOT / "docs" / "snippets"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: A fenced Python block and the marker line before it, if any.
BLOCK = re.compile(
    r"^(?:<!-- snippet: (?P<path>[^#\s]+)(?:#(?P<name>[\w-]+))? -->\n)?"
    r"```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)


def python_blocks() -> list[tuple[str, str | None, str | None, str]]:
    """Each Python block of the docs: where it is, the snippet it names, its code."""
    blocks = []
    for doc in DOCS:
        text = doc.read_text()
        for match in BLOCK.finditer(text):
            where = f"{doc.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}"
            blocks.append((where, match["path"], match["name"], match["code"]))
    return blocks


def snippet(path: str, name: str | None) -> str:
    """The text a marker names: a whole file, or one region of it, dedented."""
    text = (ROOT / path).read_text()
    if name is None:
        return text
    found = re.search(
        rf"^[ \t]*# snippet: {re.escape(name)}\n(.*?)^[ \t]*# end snippet\n",
        text,
        re.MULTILINE | re.DOTALL,
    )
    assert found, f"{path} has no region '# snippet: {name}' ... '# end snippet'"
    return textwrap.dedent(found[1])


def test_every_python_block_of_the_docs_is_a_snippet_file():
    blocks = python_blocks()
    assert len(blocks) >= 15
    for where, path, name, code in blocks:
        assert path, (
            f"{where}: a Python block without a snippet file: keep its code in docs/snippets/"
            " (with what it needs to run and a test) and precede the block with"
            " <!-- snippet: docs/snippets/<file>.py[#<region>] -->"
        )
        assert code == snippet(path, name), (
            f"{where} differs from {path}{f'#{name}' if name else ''}: copy the file's text"
            " into the block (or the block's into the file)"
        )
    shown = {path for _, path, _, _ in blocks}
    for source in sorted(SNIPPETS.glob("*.py")):
        assert str(source.relative_to(ROOT)) in shown, f"{source.name} is shown in no doc"


def test_the_snippets_pass_mypy_strict():
    """As a user's project would be checked (the package is typed: py.typed)."""
    files = [str(path.relative_to(ROOT)) for path in sorted(SNIPPETS.glob("*.py"))]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--strict", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def pytest_in(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """pytest in ``project`` as a user runs it: not as a worker of this suite's pytest-xdist
    (syrupy leaves writing snapshots to the controller of a worker)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=project,
        env={
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))
        },
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_snippets_run_as_a_users_project(tmp_path):
    """The snippets' tests pass in a folder of their own; the first snapshot run needs
    ``--snapshot-update``, as README says."""
    project = tmp_path / "project"
    shutil.copytree(SNIPPETS, project, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "cdk.json", project)
    # The quick start's cdk.out, which the MiniStack snippets deploy: `cdk synth` runs the app
    # with CDK_OUTDIR set, as here.
    synth = subprocess.run(
        [sys.executable, "payments_stack.py"],
        cwd=project,
        env={**os.environ, "CDK_OUTDIR": "cdk.out"},
        capture_output=True,
        text=True,
    )
    assert synth.returncode == 0, synth.stderr
    assert (project / "cdk.out" / "Payments.template.json").exists()

    first = pytest_in(project, "test_snapshot.py")
    assert first.returncode == 1, first.stdout[-3000:]
    assert "Snapshot 'test_template' does not exist!" in first.stdout, first.stdout[-3000:]

    session = pytest_in(project, "--snapshot-update")
    assert session.returncode == 0, session.stdout[-5000:] + session.stderr[-2000:]
    assert "1 snapshot generated" in session.stdout
    assert (project / "__snapshots__" / "test_snapshot.ambr").exists()
