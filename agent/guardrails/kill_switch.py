"""The global kill switch. Persisted in the incident store, so an operator's "stop" survives a restart;
held in memory too, so asking whether it is engaged (every plan, every execute, /health) is no I/O."""

from __future__ import annotations

from agent.incidents.store import IncidentStore
from agent.telemetry.metrics import AgentMetrics

STATE_KEY = "kill_switch_engaged"


class KillSwitch:
    def __init__(self, store: IncidentStore, engaged: bool, metrics: AgentMetrics) -> None:
        self._store = store
        self._engaged = engaged
        self._metrics = metrics
        self._metrics.remediation_enabled.set(0 if engaged else 1)

    @classmethod
    async def load(
        cls, store: IncidentStore, remediation_enabled_default: bool, metrics: AgentMetrics
    ) -> KillSwitch:
        """The persisted position, or the start-up default (REMEDIATION_ENABLED) when none was set."""
        value = await store.get_state(STATE_KEY)
        return cls(store, not remediation_enabled_default if value is None else bool(value), metrics)

    @property
    def engaged(self) -> bool:
        return self._engaged

    async def set(self, engaged: bool) -> None:
        await self._store.set_state(STATE_KEY, engaged)
        self._engaged = engaged
        self._metrics.remediation_enabled.set(0 if engaged else 1)
