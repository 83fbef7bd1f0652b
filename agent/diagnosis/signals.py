"""Evaluating runbook signals and checks against a Symptoms snapshot, and quoting the values in evidence.

A missing value (the source could not be read, or the service does not give that signal) matches
nothing, so a blind spot never counts as evidence either way. `alert:` and `check_failing:` signals are
facts about lists we did read: absent means False. `log:<text>` is the number of error log lines
containing <text>, unknown when no logs were read.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.domain.signals import SignalValue, Symptoms, Unit, compare, fmt


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

    def value(self, name: str) -> SignalValue:
        if name.startswith("log:"):
            if not self.symptoms.logs_read:
                return None
            needle = name[4:].lower()
            return sum(n for sig, n in self.symptoms.log_error_signatures.items() if needle in sig.lower())
        if name.startswith(("alert:", "check_failing:")):
            return bool(self.values.get(name, False))
        return self.values.get(name)

    def unit(self, name: str) -> Unit:
        return self.symptoms.unit(name)

    def observe(self, name: str, op: str, expected: SignalValue) -> Observation:
        observed = self.value(name)
        return Observation(name, observed, compare(observed, op, expected))

    def show(self, name: str, value: SignalValue) -> str:
        """A value of this signal as an engineer reads it (its unit)."""
        if name.startswith("log:") and isinstance(value, int | float) and not isinstance(value, bool):
            return f"{int(value)} error lines"
        return fmt(value, self.unit(name))

    def describe(self, description: str, name: str, op: str, expected: SignalValue) -> str:
        """An evidence line: "pool utilization 100% (>= 90%)"."""
        observed = self.value(name)
        if isinstance(expected, bool) and op in ("==", "!="):
            return f"{description}: {self.show(name, observed)}"
        if name.startswith("log:"):
            return f"{description}: {self.show(name, observed)} mention {name[4:]!r}"
        return f"{description} {self.show(name, observed)} ({op} {self.show(name, expected)})"
