"""Signals and the symptoms snapshot: named values with a unit and where each came from.

A signal is whatever a signal pack or a probe of the service's catalog entry names (`error_ratio`,
`pool_utilization_ratio`, `up`...); runbooks are written against those names. Units follow the
Prometheus conventions (base units: seconds, bytes, ratios 0..1), so a value reads the same whichever
source measured it, and `fmt` shows it the way an engineer would read it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.domain.alerts import AlertSummary

SignalValue = float | bool | str | None
Unit = Literal[
    "ratio", "seconds", "bytes", "bytes_per_second", "per_second", "cores", "count", "bool", "text",
    "times", "number",
]  # fmt: skip
PREFIXES = ("alert:", "check_failing:", "log:")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


class Reading(BaseModel):
    """One signal's value, its unit, and its provenance (`promql`, `probe:<name>`, `derived`)."""

    value: SignalValue = None
    unit: Unit = "number"
    source: str = ""


class Symptoms(BaseModel):
    """What gather saw of one service. A source that could not be read leaves its signals out and says so
    in `gaps`; `tags` are the symptom pattern (tag → words) the signal packs define."""

    service: str = ""
    alerts: list[AlertSummary] = Field(default_factory=list)
    signals: dict[str, Reading] = Field(default_factory=dict)
    failing_checks: list[str] = Field(default_factory=list)
    check_details: dict[str, str] = Field(default_factory=dict)
    logs_read: bool = Field(default=False, description="error logs were read (`log:` signals are known)")
    log_error_count: int = 0
    log_error_signatures: dict[str, int] = Field(
        default_factory=dict, description="normalised error messages (numbers and ids stripped) → count"
    )
    log_samples: list[str] = Field(default_factory=list, description="a few recent error lines, truncated")
    tags: dict[str, str] = Field(default_factory=dict, description="symptom pattern tag → search words")
    gaps: list[str] = Field(
        default_factory=list, description="sources that could not be read, e.g. 'prometheus'"
    )

    def value(self, name: str) -> SignalValue:
        reading = self.signals.get(name)
        return None if reading is None else reading.value

    def unit(self, name: str) -> Unit:
        reading = self.signals.get(name)
        return "number" if reading is None else reading.unit

    def alert_names(self) -> set[str]:
        return {a.name for a in self.alerts if a.status == "firing"}

    def as_signals(self) -> dict[str, SignalValue]:
        """Flat name → value view that runbook signals, checks and parameter templates are written
        against: every reading, plus `alert:<Name>` and `check_failing:<name>` (True when so)."""
        values: dict[str, SignalValue] = {name: r.value for name, r in self.signals.items()}
        for name in self.alert_names():
            values[f"alert:{name}"] = True
        for check in self.failing_checks:
            values[f"check_failing:{check}"] = True
        return values


def fmt(value: SignalValue, unit: Unit = "number") -> str:
    """A value as an engineer would read it: ratios in percent, durations in ms/s/min, MiB, req/s."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return repr(value)
    v = float(value)
    if unit == "ratio":
        return f"{v * 100:.0f}%"
    if unit == "seconds":
        if abs(v) < 1:
            return f"{v * 1000:.0f} ms"
        return f"{v:.0f} s" if abs(v) < 120 else f"{v / 60:.0f} min"
    if unit == "bytes":
        return f"{v / 2**20:.0f} MiB"
    if unit == "bytes_per_second":
        return f"{v / 1024:.0f} KiB/s"
    if unit == "per_second":
        return f"{v:.1f}/s"
    if unit == "cores":
        return f"{v:.2f} cores"
    if unit == "times":
        return f"{v:.1f}x"
    if unit == "count":
        return f"{v:.0f}"
    return f"{v:g}"


def compare(observed: SignalValue, op: str, expected: SignalValue) -> bool | None:
    """`observed op expected`; None when it cannot be told (no value, or a type the operator does not fit)."""
    if observed is None:
        return None
    if op == "contains":
        return str(expected).lower() in str(observed).lower()
    if isinstance(expected, bool) or isinstance(observed, bool):
        if op not in ("==", "!="):
            return None
        return _COMPARE[op](bool(observed), bool(expected))
    if isinstance(expected, int | float) and isinstance(observed, int | float):
        return _COMPARE[op](float(observed), float(expected))
    if op in ("==", "!="):
        return _COMPARE[op](str(observed).lower(), str(expected).lower())
    return None
