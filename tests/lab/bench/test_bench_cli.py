"""`python -m lab bench --report`: the table and chart again from runs already measured, no stack."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from lab.bench.report import RunLog
from lab.bench.scenario import NO_FAULT, RunResult

T0 = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)


def bench(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", "bench", *argv], capture_output=True, text=True, timeout=120
    )


def test_report_summarizes_a_run_log_again(tmp_path: Path) -> None:
    log = RunLog(tmp_path / "runs.jsonl")
    for run, ttm in enumerate([30.0, 50.0], start=1):
        log.record(
            RunResult(
                fault="crash", responder="agent", run=run, started_at=T0, paged=True, mitigated=True,
                seconds_to_page=8.0, seconds_to_mitigate=ttm, diagnosis="target-down", diagnosis_correct=True,
                actions=["restart-target"], incidents=1, workflow_steps=12, floor_seconds=20.0,
            )
        )  # fmt: skip
    log.record(RunResult(fault=NO_FAULT, responder="agent", run=1, started_at=T0))

    done = bench("--report", str(log.path), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    table = (tmp_path / "out" / "bench.md").read_text()
    assert "| agent | target | crash | 2 | 100% | 100% | 100% | 0 | 0 | 8.0/8.0 |" in table
    assert "| 40.0/50.0 | 2.00 |" in table  # median and p95 TTM, median TTM over the floor
    assert (tmp_path / "out" / "bench.png").stat().st_size > 0
    assert RunLog.read(tmp_path / "out" / "bench.json") == log.results


def test_report_of_nothing_readable_exits_1_with_the_reason(tmp_path: Path) -> None:
    missing = bench("--report", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 1 and "cannot read runs" in missing.stdout
    (tmp_path / "bad.json").write_text('{"summary": {}}')
    broken = bench("--report", str(tmp_path / "bad.json"), "--out", str(tmp_path / "out"))
    assert broken.returncode == 1 and "cannot read runs" in broken.stdout
    (tmp_path / "empty.jsonl").write_text("")
    empty = bench("--report", str(tmp_path / "empty.jsonl"), "--out", str(tmp_path / "out"))
    assert empty.returncode == 1 and "no runs" in empty.stdout
    assert not (tmp_path / "out").exists()
