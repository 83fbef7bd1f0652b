"""The reliability suite's rows as the terminal table, `reliability.json` and `reliability.md`.

The Markdown is rendered from the JSON alone, so `python -m lab reliability --report` writes the docs'
table again from a saved run, and a test checks the committed table is what the committed run gives.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

from pydantic import TypeAdapter
from rich import box
from rich.console import Console
from rich.table import Table

from lab.bench.reliability_harness import Row

TITLE = "the agent when things around it break (real agent processes)"
COLUMNS = ("fault or input", "what the agent did", "incidents recorded", "actions run", "anything lost")
_ROWS = TypeAdapter(list[Row])  # the `ok` each JSON row carries is derived: read, it is ignored
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_<\[\]|])")


def _cells(row: Row) -> list[str]:
    def counted(value: int, expected: int) -> str:
        return f"{value}" + ("" if value == expected else f" (expected {expected})")

    return [
        row.fault,
        row.did,
        counted(row.incidents, row.expected_incidents),
        counted(row.actions, row.expected_actions),
        "; ".join(row.lost) if row.lost else "nothing",
    ]


def tally(rows: list[Row]) -> str:
    return f"{sum(row.ok for row in rows)}/{len(rows)} as expected"


def print_table(rows: list[Row], console: Console) -> None:
    table = Table(title=TITLE, box=box.SIMPLE_HEAD)
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*_cells(row), style=None if row.ok else "red")
    console.print(table)


def _markdown_cell(text: str) -> str:
    """One line, with what Markdown would read as a table border, emphasis, code, a link or HTML escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def render_markdown(rows: list[Row]) -> str:
    """The same table as `print_table`, as Markdown for the docs, then the tally."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_markdown_cell(cell) for cell in _cells(row)) + " |" for row in rows]
    return "\n".join([*lines, "", f"{tally(rows)}."]) + "\n"


def read_rows(path: Path) -> list[Row]:
    """The rows of a run's `reliability.json`."""
    return _ROWS.validate_json(path.read_bytes())


def write_outputs(rows: list[Row], out_dir: Path) -> dict[str, Path]:
    """Every row (with whether it is as expected) as JSON, and the table as Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "reliability.json"
    report = [asdict(row) | {"ok": row.ok} for row in rows]
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path = out_dir / "reliability.md"
    md_path.write_text(render_markdown(rows), encoding="utf-8")
    return {"json": json_path, "md": md_path}
