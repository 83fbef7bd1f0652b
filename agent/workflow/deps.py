"""Everything the nodes use, bound into them with functools.partial by `create_graph` (no globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from agent.actions.backend import ActionBackend
from agent.actions.registry import ActionBackends
from agent.catalog.catalog import Service, ServiceCatalog
from agent.clients.prometheus import PrometheusClient
from agent.config import Settings
from agent.guardrails.policy import Guardrails, Limits
from agent.incidents.store import IncidentStore
from agent.paging.handover import Handover
from agent.signals.probes import probe_sources
from agent.signals.promql import PromQLSignals
from agent.signals.source import SignalSource
from agent.telemetry.metrics import AgentMetrics


@dataclass
class Reasoning:
    """The diagnosis functions (or a test's stand-ins) behind one seam."""

    diagnose: Callable[..., Any]
    investigate: Callable[..., Any]
    symptoms_query: Callable[[Any], str]
    llm: Any | None = None  # an object with `async diagnose(symptoms, runbooks, past, catalog_actions)`
    # (symptoms, runbooks, past) -> runbook ids the evidence supports; None: the deterministic diagnosis
    # and its candidates. An LLM answer outside them is not acted on.
    supported: Callable[..., set[str]] | None = None


def default_reasoning(llm: Any | None = None) -> Reasoning:
    from agent.diagnosis.deterministic import diagnose, supported
    from agent.diagnosis.investigate import investigate
    from agent.diagnosis.symptoms_text import symptoms_query

    return Reasoning(
        diagnose=diagnose,
        investigate=investigate,
        symptoms_query=symptoms_query,
        llm=llm,
        supported=supported,
    )


# Opens an incident for alerts that outlived a verified fix: (service, alerts, reason) -> incident id.
OpenIncident = Callable[[str, list[Any], str], Awaitable[str | None]]


@dataclass
class WorkflowDeps:
    settings: Settings
    store: IncidentStore
    http: httpx.AsyncClient
    prometheus: PrometheusClient
    catalog: ServiceCatalog
    backends: ActionBackends
    guardrails: Guardrails
    metrics: AgentMetrics
    reasoning: Reasoning
    runbooks: Callable[[], list[Any]]
    knowledge: Any | None = None
    annotations: Any | None = None  # agent.annotations.IncidentAnnotations; never blocks a node
    amendments: Any | None = None  # agent.learning.proposed.ProposedAmendments; None = propose nothing
    open_incident: OpenIncident | None = None  # set once the intake exists (it starts this graph)
    handover: Handover | None = None  # people through Alertmanager: the agent's alerts, its silences
    sleep: Callable[[float], Awaitable[None]] | None = None
    log: Any = field(default_factory=lambda: structlog.get_logger("agent.workflow"))

    def runbook(self, runbook_id: str | None) -> Any | None:
        return next((rb for rb in self.runbooks() if rb.id == runbook_id), None)

    def service(self, name: str) -> Service | None:
        return self.catalog.get(name)

    def runbooks_for(self, service: Service | None) -> list[Any]:
        """The runbooks that are candidates for this service: it gives every signal their evidence needs."""
        if service is None:
            return []
        signals = service.signal_names()
        return [rb for rb in self.runbooks() if _applies(rb, signals, service.packs)]

    async def handled_elsewhere(self, incident: Any) -> dict[str, str]:
        """Diagnosis → incident id of the problems other open incidents of this service are handling."""
        return {
            str(other.diagnosis_id): other.id
            for other in await self.store.open_for_service(incident.service)
            if other.id != incident.id and other.is_diagnosed
        }

    def sources(self, service: Service) -> Sequence[SignalSource]:
        """PromQL first, then the service's probes (a later source's value wins)."""
        return [PromQLSignals(self.prometheus), *probe_sources(self.http, service)]

    def backend(self, service: Service | None) -> ActionBackend | None:
        return None if service is None else self.backends.for_service(service)

    def limits(self, service: Service | None) -> Limits:
        return Limits.of(self.settings, service.entry.guardrails if service is not None else None)

    async def set_step(self, incident_id: str, step: str, status: str | None = None) -> None:
        def mutate(incident: Any) -> None:
            incident.step = step
            if status is not None:
                incident.status = status

        await self.store.update(incident_id, mutate)
        self.metrics.workflow_steps_total.labels(step=step).inc()

    async def record(
        self, incident_id: str, step: str, message: str, data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Append to the incident's timeline (the store is what people read) and return it for the state."""
        entry = await self.store.append(incident_id, step, message, data)
        self.log.info("timeline", step=step, message=message)
        return entry.model_dump(mode="json")


def _applies(runbook: Any, signals: set[str], packs: frozenset[str]) -> bool:
    applies = getattr(runbook, "applies_to", None)
    return bool(applies(signals, packs)) if callable(applies) else True
