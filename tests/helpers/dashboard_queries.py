"""The PromQL each provisioned dashboard runs, with Grafana's macros replaced by concrete durations.

Shared by the dashboard tests (tests/grafana) and by the end-to-end test that runs the same queries
against the lab's live Prometheus.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
# $__rate_interval is at least 4 scrape intervals; a minute covers the lab (1 s) and production (15 s).
DEFAULT_MACROS: Mapping[str, str] = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s"}


def load(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def iter_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Top-level panels and those nested in collapsed rows."""
    for p in board.get("panels", []):
        yield p
        yield from p.get("panels", [])


def expand(expr: str, macros: Mapping[str, str] = DEFAULT_MACROS) -> str:
    # Longest first: `$__range` must not eat the start of a longer macro name.
    for name in sorted(macros, key=len, reverse=True):
        expr = expr.replace(name, macros[name])
    return expr


def dashboard_queries(path: Path, macros: Mapping[str, str] = DEFAULT_MACROS) -> list[tuple[str, str]]:
    """(panel title, expr) for every panel target, plus ("annotation: <name>", expr) for Prometheus
    annotation queries, macros replaced."""
    board = load(path)
    out = [
        (p["title"], expand(t["expr"], macros))
        for p in iter_panels(board)
        for t in p.get("targets", [])
        if t.get("expr")
    ]
    out += [
        (f"annotation: {a['name']}", expand(a["expr"], macros))
        for a in board.get("annotations", {}).get("list", [])
        if a.get("expr")
    ]
    return out
