"""Evaluating runbook signals and checks against a Symptoms snapshot, and quoting the values in evidence.

A missing value (None: the source could not be read) matches nothing, so a blind spot never counts as
evidence either way. `alert:`, `check_failing:` and `log:` signals are facts about lists we did read:
absent means False / 0, unless the logs themselves were not read.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.diagnosis.models import SignalValue, Symptoms

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Observation:
    """The outcome of `signal op value`: `matched` is None when the value is unknown."""

    signal: str
    observed: SignalValue
    matched: bool | None


class SignalView:
    """`Symptoms.as_signals()` plus the derived lookups, computed once per snapshot."""

    def __init__(self, symptoms: Symptoms) -> None:
        self.symptoms = symptoms
        self.values = symptoms.as_signals()
        self._logs_read = "logs" not in symptoms.gaps

    def value(self, name: str) -> SignalValue:
        if name.startswith("log:"):
            if not self._logs_read and not self.symptoms.log_error_signatures:
                return None
            needle = name[4:].lower()
            return sum(n for sig, n in self.symptoms.log_error_signatures.items() if needle in sig.lower())
        if name.startswith(("alert:", "check_failing:")):
            return bool(self.values.get(name, False))
        return self.values.get(name)

    def observe(self, name: str, op: str, expected: SignalValue) -> Observation:
        observed = self.value(name)
        return Observation(name, observed, compare(observed, op, expected))


def compare(observed: SignalValue, op: str, expected: SignalValue) -> bool | None:
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


def fmt(name: str, value: SignalValue) -> str:
    """A value as an engineer would read it: ratios in percent, milliseconds, MiB, multiples of baseline."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return repr(value)
    v = float(value)
    if name.startswith("log:"):
        return f"{int(v)} error lines"
    if name.endswith("_ratio") and name != "cpu_ratio":
        return f"{v * 100:.0f}%"
    if name == "cpu_ratio":
        return f"{v:.2f} cores"
    if name.endswith("_ms"):
        return f"{v:.0f} ms"
    if name.endswith("_percent"):
        return f"{v:.1f}%"
    if name == "memory_growth_bytes_per_second":
        return f"{v / 1024:.0f} KiB/s"
    if name.endswith("_bytes"):
        return f"{v / 2**20:.0f} MiB"
    if name == "rps_over_baseline":
        return f"{v:.1f}x baseline"
    if name.endswith("_seconds_ago"):
        return f"{v:.0f} s ago" if v < 120 else f"{v / 60:.0f} min ago"
    if name in ("requests_per_second", "baseline_rps", "throttled_per_second"):
        return f"{v:.1f} req/s"
    return f"{v:g}"


def describe(description: str, name: str, op: str, expected: SignalValue, observed: SignalValue) -> str:
    """An evidence line: "pool utilization 100% (>= 90%)"."""
    if isinstance(expected, bool) and op in ("==", "!="):
        return f"{description}: {fmt(name, observed)}"
    if name.startswith("log:"):
        return f"{description}: {fmt(name, observed)} mention {name[4:]!r}"
    return f"{description} {fmt(name, observed)} ({op} {fmt(name, expected)})"
