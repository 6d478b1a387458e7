"""The jsonata-js conformance suite: the engine's evaluator agrees with jsonata 2.0.6 on every case.

The suite (``groups/``, ``datasets/``) comes with the jsonata-python 0.7.0 sdist, downloaded once
with pip from PyPI (its sha256 checked) and kept in ``build/``. Its files hold JSONata 2.1.0's
expected results, so each case's expected outcome is the reference's: npm jsonata 2.0.6 called
directly, bare. The engine evaluates each case as a state's field, through its Python client and
``step_functions.js``, with the case's input as ``$`` and its bindings.

The one intended difference is Step Functions': no ``$eval`` ("Transforming data with JSONata in
Step Functions": all built-in functions except ``$eval``; use ``$parse``). Cases with a time or
depth limit are left out: they test the suite runner's own timebox, and two never end on 2.0.6.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from jsonata_reference import NO_INPUT, JSONataReference, Outcome, disagreement, engine_outcome

SDIST = "jsonata-python==0.7.0"
SDIST_SHA256 = "2cf788147a0d444cb9d7d81c58da9991607280d6a5d0f06bd2dd212a59fdcb16"
SUITE_IN_SDIST = "jsonata_python-0.7.0/jsonata/test/test-suite/"
CACHE = ROOT / "build" / "jsonata-conformance"
#: Cases without a time or depth limit in the 0.7.0 sdist; a loader that finds another number
#: reads the suite differently.
CASES = 1644

Case = tuple[str, Any, dict[str, Any]]  # expression, input document (or NO_INPUT), bindings


def downloaded_suite() -> Path:
    """The suite's folder, downloaded and unpacked into ``build/`` the first time."""
    suite = CACHE / "test-suite"
    if suite.is_dir():
        return suite
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as temporary:
        download = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        subprocess.run(
            [*download, "--no-binary", ":all:", SDIST, "--dest", temporary],
            check=True,
            capture_output=True,
        )
        (sdist,) = Path(temporary).glob("*.tar.gz")
        assert hashlib.sha256(sdist.read_bytes()).hexdigest() == SDIST_SHA256, sdist
        unpacked = Path(temporary) / "test-suite"
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                inside = member.name.removeprefix(SUITE_IN_SDIST)
                if member.isfile() and inside != member.name and ".." not in inside:
                    target = unpacked / inside
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None
                    target.write_bytes(source.read())
        shutil.move(unpacked, suite)
    return suite


def load_cases(suite: Path) -> list[Case]:
    """The suite's cases without a time or depth limit."""
    datasets = {path.stem: json.loads(path.read_text()) for path in suite.glob("datasets/*.json")}
    cases = []
    for path in sorted(suite.glob("groups/*/*.json")):
        loaded = json.loads(path.read_text())
        for case in loaded if isinstance(loaded, list) else [loaded]:
            if "timelimit" in case or "depth" in case:
                continue
            expression = case.get("expr") or (path.parent / case["expr-file"]).read_text()
            if "data" in case:
                document = case["data"]
            else:
                document = datasets[case["dataset"]] if case.get("dataset") else NO_INPUT
            cases.append((expression, document, case.get("bindings") or {}))
    return cases


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases(downloaded_suite())


@pytest.fixture(scope="module")
def bare_jsonata():
    """npm jsonata 2.0.6 called directly, nothing added or removed."""
    reference = JSONataReference(step_functions=False)
    yield reference
    reference.close()


def test_every_case_agrees_with_jsonata_2_0_6_except_step_functions_eval(cases, bare_jsonata):
    expected: list[Outcome] = []
    for start in range(0, len(cases), 200):
        chunk = cases[start : start + 200]
        expected += bare_jsonata.evaluate_many(
            ((expression, bindings) for expression, _, bindings in chunk),
            (document for _, document, _ in chunk),
        )
    disagreeing, refused = [], []
    for (expression, document, bindings), reference in zip(cases, expected, strict=True):
        engine = engine_outcome(expression, bindings, document)
        if "$eval(" in expression:
            refused.append(engine)
        elif not engine.agrees_with(reference):
            disagreeing.append(disagreement(expression, bindings, engine, reference))
    assert len(cases) == CASES
    assert not disagreeing, f"{len(disagreeing)} of {len(cases)}:" + "".join(disagreeing[:5])
    # Step Functions has no $eval: calling it is calling something that is not a function.
    # 12 cases call it; jsonata 2.0.6 fails 2 of them too (their argument is no JSONata).
    assert len(refused) == 12
    assert all("T1006: Attempted to invoke a non-function" in str(e) for e in refused), refused
