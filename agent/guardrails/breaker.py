"""A circuit breaker per action: it opens after N verifications in a row failed after that action, and
lets one trial through (half-open) once the cool-off has passed. A success closes it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.telemetry.metrics import AgentMetrics


@dataclass
class BreakerState:
    failures: int = 0
    opened_at: float | None = None


class CircuitBreakers:
    def __init__(
        self,
        failures_to_open: int,
        cooloff_seconds: float,
        metrics: AgentMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failures_to_open
        self._cooloff = cooloff_seconds
        self._metrics = metrics
        self._clock = clock
        self._states: dict[str, BreakerState] = {}

    def is_open(self, action: str) -> bool:
        state = self._states.get(action)
        if state is None or state.opened_at is None:
            return False
        # after the cool-off the breaker is half-open: one more try, and its verification decides
        return self._clock() - state.opened_at < self._cooloff

    def record_failure(self, action: str) -> None:
        state = self._states.setdefault(action, BreakerState())
        state.failures += 1
        if state.failures >= self._threshold:
            state.opened_at = self._clock()
            self._metrics.circuit_breaker_open.labels(action=action).set(1)

    def record_success(self, action: str) -> None:
        self._states[action] = BreakerState()
        self._metrics.circuit_breaker_open.labels(action=action).set(0)

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {
            action: {"open": self.is_open(action), "consecutive_failures": state.failures}
            for action, state in self._states.items()
        }
