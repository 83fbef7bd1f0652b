"""`python -m lab reliability --report`: the table again from a saved run, no agent started."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from lab.bench.reliability_harness import Row
from lab.bench.reliability_report import read_rows, render_markdown, write_outputs

ROWS = [
    Row("baseline: a pool-exhaustion page", "resolved: db-pool-exhaustion (deterministic)", 1, 1, [], 1, 1),
    Row("a | in *the* fault", "open_routes=['POST /agent/*', 'GET /agent/*']\nsecond line", 0, 0, [], 0, 0),
    Row("kill switch engaged", "escalated", 1, 1, ["1 action(s) missing from the history"], 1, 0),
]


def reliability(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", "reliability", *argv], capture_output=True, text=True, timeout=120
    )


def test_the_markdown_is_one_row_per_fault_with_what_differs_from_the_expected() -> None:
    lines = render_markdown(ROWS).splitlines()
    assert lines[0].startswith("| fault or input | what the agent did |")
    assert lines[2] == (
        "| baseline: a pool-exhaustion page | resolved: db-pool-exhaustion (deterministic)"
        " | 1 | 1 | nothing |"
    )
    assert lines[3] == (
        r"| a \| in \*the\* fault | open\_routes=\['POST /agent/\*', 'GET /agent/\*'\] second line"
        " | 0 | 0 | nothing |"
    )
    assert lines[4].endswith("| 1 | 1 (expected 0) | 1 action(s) missing from the history |")
    assert lines[-1] == "2/3 as expected."


def test_report_writes_the_table_of_a_saved_run_again(tmp_path: Path) -> None:
    saved = write_outputs(ROWS, tmp_path / "run")["json"]
    assert [row["ok"] for row in json.loads(saved.read_text())] == [True, True, False]

    done = reliability("--report", str(saved), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2/3 as expected" in done.stdout
    assert (tmp_path / "out" / "reliability.md").read_text() == render_markdown(ROWS)
    assert (tmp_path / "out" / "reliability.json").read_text() == saved.read_text()
    assert read_rows(tmp_path / "out" / "reliability.json") == ROWS


UNREADABLE = {
    "missing": (None, "cannot read rows"),
    "not JSON": ("[{", "cannot read rows"),
    "a row without what the agent did": (
        json.dumps([{k: v for k, v in asdict(ROWS[0]).items() if k != "did"}]),
        "cannot read rows",
    ),
    "no rows": ("[]", "no rows"),
}


@pytest.mark.parametrize(("content", "reason"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_report_of_nothing_readable_exits_1_with_the_reason(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    saved = tmp_path / "reliability.json"
    if content is not None:
        saved.write_text(content)
    done = reliability("--report", str(saved), "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and reason in done.stdout, done.stdout + done.stderr
    assert not (tmp_path / "out").exists()
