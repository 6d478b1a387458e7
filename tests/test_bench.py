"""`make bench` cannot rot: `make test` runs its quick mode, which must compute every figure."""

from __future__ import annotations

import importlib
import subprocess
import sys

from conftest import ROOT

RESULTS = ROOT / "bench" / "results.json"


def test_the_quick_benchmark_computes_every_figure():
    """Every measurement of the full benchmark, through the same code, a few times each."""
    before = RESULTS.read_bytes()
    result = subprocess.run(
        [sys.executable, "bench/benchmark.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "quick mode: every figure computed" in result.stdout
    for workflow in ("JmespathKeyStandard", "TransactionExpress", "OrderFlow"):
        assert f"{workflow} " in result.stdout
    assert "duplicate through the client" in result.stdout
    assert "monitoring: execution logs, USD/1M" in result.stdout
    assert "monitoring per workflow and month, whatever it runs: USD 4.50" in result.stdout
    for figure in ("synth (median of 1", "cdk deploy (2 stacks)", "whole test suite"):
        assert figure in result.stdout
    assert RESULTS.read_bytes() == before, "only the full mode (make bench) writes the numbers"


def test_a_figure_that_cannot_be_computed_fails_the_benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    bench = importlib.import_module("benchmark")
    row = {
        "workflow": "DemoStandard",
        "scenario": "duplicate",
        "states": 4,
        "machinery_states": 4,
        "lambda_invocations": 0,
        "dynamodb_calls": 2,
        "retries": 0,
        "usd_per_million": 100.0,
        "log_usd_per_million": {"ALL": 2.9, "ALL+data": 5.1, "ERROR": 0.3, "FATAL": 0.0},
    }
    results = {
        "executions": [row, {**row, "workflow": "DemoExpress", "usd_per_million": None}],
        "synth": {"ratio": 1.3},
        "engine": {"duplicate_ms": 20.1},
        "ministack": {"deploy_all_s": 3.3},
        "suite_seconds": 2.0,
    }
    assert bench.missing_figures(results) == []
    broken = {
        **results,
        "executions": [
            {
                **row,
                "states": 0,
                "usd_per_million": None,
                "log_usd_per_million": {"ALL": 0.0, "ERROR": 0.0, "FATAL": 0.0},
            }
        ],
        "engine": {"duplicate_ms": float("nan")},
        "ministack": {"deploy_all_s": None},
    }
    assert bench.missing_figures(broken) == [
        "DemoStandard / duplicate / states = 0",
        "DemoStandard / duplicate / usd_per_million = None",
        "DemoStandard / duplicate / log ALL = 0.0",
        "DemoStandard / duplicate / log ALL+data = None",
        "engine / duplicate_ms = nan",
        "ministack / deploy_all_s = None",
    ]
    assert bench.missing_figures({**results, "executions": []}) == ["executions: no row"]
