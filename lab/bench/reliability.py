"""`python -m lab reliability`: each fault around the agent and each bad input, on real processes.

The agent runs as its own process (`python -m agent`, real runbooks, real deterministic diagnoser,
real SQLite and knowledge files); the target, the action server (with its audit) and Prometheus are
the HTTP stand-ins of `lab.standins`, and the LLM is an OpenAI-compatible stand-in driven through
litellm. Each scenario pages the agent the way Alertmanager does, then reads back the agent's incident
history and the action server's audit: what was recorded and what was run. "Lost" is any page
accepted without an incident, an incident not finished, an action the audit has but the incident
history does not, or a secret in a prompt or a log line (for the secret corpus, anywhere the agent keeps
or shows things). The table and a JSON file are the result.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from lab.bench.reliability_harness import Harness, Row
from lab.bench.reliability_scenarios import SUITES


def run_suite(work: Path, suites: list[str] | None = None) -> list[Row]:
    rows: list[Row] = []
    with Harness(work) as h:
        for name in suites or list(SUITES):
            try:
                rows += SUITES[name](h)
            except Exception as exc:  # a crashed scenario is a failed row, not a crashed table
                rows.append(
                    Row(f"{name} scenarios", f"crashed: {type(exc).__name__}: {exc}", 0, 0, ["crashed"], 0, 0)
                )
    return rows


def print_table(rows: list[Row], console: Console) -> None:
    table = Table(title="the agent when things around it break (real agent processes)", box=box.SIMPLE_HEAD)
    for column in (
        "fault or input",
        "what the agent did",
        "incidents recorded",
        "actions run",
        "anything lost",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        lost = "nothing" if not row.lost else "; ".join(row.lost)
        counts = f"{row.incidents}" + (
            "" if row.incidents == row.expected_incidents else f" (expected {row.expected_incidents})"
        )
        actions = f"{row.actions}" + (
            "" if row.actions == row.expected_actions else f" (expected {row.expected_actions})"
        )
        style = None if row.ok else "red"
        table.add_row(row.fault, row.did, counts, actions, lost, style=style)
    console.print(table)


def run(out: Path, suites: list[str] | None = None, keep: bool = False) -> int:
    console = Console(width=180)
    work = Path(tempfile.mkdtemp(prefix="reliability-"))
    try:
        rows = run_suite(work, suites)
    finally:
        if keep:
            console.print(f"agents' data and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows, console)
    out.mkdir(parents=True, exist_ok=True)
    report = [asdict(row) | {"ok": row.ok} for row in rows]
    (out / "reliability.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    failed = [row.fault for row in rows if not row.ok]
    console.print(f"{len(rows) - len(failed)}/{len(rows)} as expected; written to {out / 'reliability.json'}")
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suites", default=",".join(SUITES), help=f"comma-separated, of {', '.join(SUITES)}")
    parser.add_argument("--out", type=Path, default=Path(".run/reliability"))
    parser.add_argument("--keep", action="store_true", help="keep the agents' data and logs (printed path)")
