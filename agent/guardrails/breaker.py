"""A circuit breaker per service and action: it opens after N verifications in a row failed after that
action on that service, and lets one trial through (half-open) once the cool-off has passed. A success
closes it. One service's failures never open another's breaker."""

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
        self._states: dict[tuple[str, str], BreakerState] = {}

    def is_open(self, service: str, action: str) -> bool:
        state = self._states.get((service, action))
        if state is None or state.opened_at is None:
            return False
        # after the cool-off the breaker is half-open: one more try, and its verification decides
        return self._clock() - state.opened_at < self._cooloff

    def record_failure(self, service: str, action: str) -> None:
        state = self._states.setdefault((service, action), BreakerState())
        state.failures += 1
        if state.failures >= self._threshold:
            state.opened_at = self._clock()
            self._metrics.circuit_breaker_open.labels(service=service, action=action).set(1)

    def record_success(self, service: str, action: str) -> None:
        self._states[(service, action)] = BreakerState()
        self._metrics.circuit_breaker_open.labels(service=service, action=action).set(0)

    def snapshot(self) -> dict[str, dict[str, object]]:
        """`service/action` → whether it is open and its failures in a row."""
        return {
            f"{service}/{action}": {
                "open": self.is_open(service, action),
                "consecutive_failures": state.failures,
                "service": service,
                "action": action,
            }
            for (service, action), state in self._states.items()
        }
