"""`python -m lab reliability`: each fault around the agent and each bad input, on real processes.

The agent runs as its own process (`python -m agent`, real runbooks, real deterministic diagnoser,
real SQLite and knowledge files); the target, the action server (with its audit) and Prometheus are
the HTTP stand-ins of `lab.standins`, and the LLM is an OpenAI-compatible stand-in driven through
litellm. Each scenario pages the agent the way Alertmanager does, then reads back the agent's incident
history and the action server's audit: what was recorded and what was run. "Lost" is any page
accepted without an incident, an incident not finished, an action the audit has but the incident
history does not, or a secret in a prompt or a log line (for the secret corpus, anywhere the agent keeps
or shows things). The table, `reliability.json` and `reliability.md` are the result; `--report` writes
the last two again from a saved `reliability.json` without running (`lab.bench.reliability_report`).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from lab.bench.reliability_harness import Harness, Row
from lab.bench.reliability_report import print_table, read_rows, tally, write_outputs
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
    _show_and_write(rows, out, console)
    return 0 if all(row.ok for row in rows) else 1


def report(saved: Path, out: Path) -> int:
    """No run: the table of a saved `reliability.json` printed and written to `out` again."""
    console = Console(width=180)
    try:
        rows = read_rows(saved)
    except (OSError, ValidationError) as exc:
        console.print(f"[red]cannot read rows from {saved}:[/red] {exc}")
        return 1
    if not rows:
        console.print(f"[red]no rows in {saved}[/red]")
        return 1
    _show_and_write(rows, out, console)
    return 0


def _show_and_write(rows: list[Row], out: Path, console: Console) -> None:
    print_table(rows, console)
    paths = write_outputs(rows, out)
    console.print(f"{tally(rows)}; written to {paths['json']} and {paths['md']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suites", default=",".join(SUITES), help=f"comma-separated, of {', '.join(SUITES)}")
    parser.add_argument(
        "--out", type=Path, default=Path(".run/reliability"), help="where reliability.json and .md go"
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="JSON",
        help="no run: write the table of a saved reliability.json again to --out",
    )
    parser.add_argument("--keep", action="store_true", help="keep the agents' data and logs (printed path)")
