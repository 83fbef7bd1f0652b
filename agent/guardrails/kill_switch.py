"""The global kill switch. Persisted in the incident store, so an operator's "stop" survives a restart."""

from __future__ import annotations

from agent.incidents.store import IncidentStore
from agent.telemetry.metrics import AgentMetrics

STATE_KEY = "kill_switch_engaged"


class KillSwitch:
    def __init__(
        self, store: IncidentStore, remediation_enabled_default: bool, metrics: AgentMetrics
    ) -> None:
        self._store = store
        self._default_engaged = not remediation_enabled_default
        self._metrics = metrics
        self._metrics.remediation_enabled.set(0 if self.engaged else 1)

    @property
    def engaged(self) -> bool:
        value = self._store.get_state(STATE_KEY)
        return self._default_engaged if value is None else bool(value)

    def set(self, engaged: bool) -> None:
        self._store.set_state(STATE_KEY, engaged)
        self._metrics.remediation_enabled.set(0 if engaged else 1)
