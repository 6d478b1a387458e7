"""The docs travel with the code: diagrams regenerate to the committed file, links resolve."""

from __future__ import annotations

import re

from conftest import ROOT

from idempotent_workflows.diagrams import mermaid
from idempotent_workflows.testing.deploy.functions import import_isolated


def test_the_committed_diagrams_match_the_synthesized_definitions():
    generate = import_isolated(ROOT / "docs", "generate")
    assert (ROOT / "docs" / "state-machines.md").read_text() == generate.render(), (
        "docs/state-machines.md is stale: run `make docs` and review the diff"
    )


def test_the_committed_dashboard_picture_matches_the_synthesized_dashboard():
    dashboard = import_isolated(ROOT / "docs", "dashboard")
    picture = dashboard.render()
    assert (ROOT / "docs" / "dashboard.svg").read_text() == picture, (
        "docs/dashboard.svg is stale: run `make docs` and review the diff"
    )
    for shown in ("Alarms", "DuplicateRate", "Duplicate rate (%) (right axis)", "Throttled"):
        assert f"{shown}</text>" in picture or f">{shown}" in picture


def test_a_diagram_shows_every_transition():
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% true %}", "Next": "Work"}],
                "Default": "Stop",
            },
            "Work": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}}
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Stop"}],
                "End": True,
            },
            "Stop": {"Type": "Fail", "Error": "E"},
        },
    }
    lines = mermaid(definition).splitlines()
    assert lines[0] == "flowchart TD"
    for line in [
        "  start --> Pick",
        '  Pick{"Pick"}',
        '  Pick -->|"when 1"| Work',
        '  Pick -->|"otherwise"| Stop',
        '  subgraph Work ["Work (Parallel)"]',
        "    Work_0_start --> Work_0_Inner",
        "    Work_0_Inner --> Work_0_finish",
        '  Work -->|"catch States.ALL"| Stop',
        "  Work --> finish",
        '  Stop(["Stop (Fail)"])',
    ]:
        assert line in lines, line


def test_docs_and_readme_name_no_file_outside_the_repo():
    texts = {path: path.read_text() for path in [ROOT / "README.md", *ROOT.glob("docs/*.md")]}
    for source in ROOT.glob("constructs/idempotent_workflows/**/*.py"):
        texts[source] = source.read_text()
    for path, text in texts.items():
        assert "DESIGN.md" not in text, path
        assert "../shared" not in text, path
    # Every repository path the docs mention in backquotes exists.
    for path, text in texts.items():
        if path.suffix != ".md":
            continue
        for mentioned in re.findall(r"`((?:docs|tests|bench|lambdas|constructs)/[\w./-]+)`", text):
            assert (ROOT / mentioned).exists(), f"{path.name} mentions {mentioned}"
