"""Everything `agent.composition.build_runtime` builds, in one place the routes reach through `Depends`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from agent.catalog.catalog import ServiceCatalog
from agent.config import Settings
from agent.guardrails.breaker import CircuitBreakers
from agent.guardrails.kill_switch import KillSwitch
from agent.incidents.store import IncidentStore
from agent.intake.correlation import Correlator
from agent.intake.monitor import MonitorLoop
from agent.intake.queue import IntakeQueue
from agent.knowledge.library import RunbookLibrary
from agent.learning.proposed import ProposedAmendments
from agent.redaction import redact
from agent.telemetry.metrics import AgentMetrics
from agent.workflow.deps import WorkflowDeps
from agent.workflow.runner import IncidentRunner


@dataclass
class AgentRuntime:
    settings: Settings
    registry: CollectorRegistry
    metrics: AgentMetrics
    store: IncidentStore
    catalog: ServiceCatalog
    deps: WorkflowDeps
    kill_switch: KillSwitch
    breakers: CircuitBreakers
    runner: IncidentRunner
    correlator: Correlator
    queue: IntakeQueue
    library: RunbookLibrary | None = None  # None when runbooks were given fixed
    amendments: ProposedAmendments | None = None  # None = disabled
    monitor: MonitorLoop | None = None
    annotations: Any | None = None
    saver: Any | None = None  # the graph's checkpointer
    notes: list[str] = field(default_factory=list)

    @property
    def runbooks(self) -> Callable[[], list[Any]]:
        return self.deps.runbooks

    @property
    def reasoning(self) -> Any:
        return self.deps.reasoning

    @property
    def knowledge(self) -> Any | None:
        return self.deps.knowledge

    @property
    def prometheus(self) -> Any:
        return self.deps.prometheus

    @property
    def llm(self) -> Any | None:
        return self.deps.reasoning.llm

    @property
    def llm_enabled(self) -> bool:
        return self.deps.reasoning.llm is not None

    def all_notes(self) -> list[str]:
        """Start-up notes and the runbook library's and catalog's current ones."""
        library = self.library.notes if self.library is not None else []
        return [redact(note) for note in (*self.notes, *self.catalog.notes, *library)]

    async def refresh_follow_ups(self) -> None:
        """`sre_agent_follow_ups_open` from the incident history (at start-up and when one is closed)."""
        counts: dict[tuple[str, str], int] = {}
        for service, diagnosis in await self.store.open_follow_ups():
            counts[(service, diagnosis)] = counts.get((service, diagnosis), 0) + 1
        gauge = self.metrics.follow_ups_open
        gauge.clear()
        for (service, diagnosis), count in counts.items():
            gauge.labels(service=service, diagnosis=diagnosis).set(count)
