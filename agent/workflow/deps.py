"""Everything the nodes use, bound into them with functools.partial by `create_graph` (no globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from agent.clients.actions import ActionClient
from agent.clients.prometheus import PrometheusClient
from agent.clients.target import TargetClient
from agent.config import Settings
from agent.guardrails.policy import Guardrails
from agent.incidents.store import IncidentStore
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


@dataclass
class WorkflowDeps:
    settings: Settings
    store: IncidentStore
    target: TargetClient
    prometheus: PrometheusClient
    actions: ActionClient
    guardrails: Guardrails
    metrics: AgentMetrics
    reasoning: Reasoning
    runbooks: Callable[[], list[Any]]
    knowledge: Any | None = None
    annotations: Any | None = None  # agent.annotations.IncidentAnnotations; never blocks a node
    amendments: Any | None = None  # agent.learning.proposed.ProposedAmendments; None = propose nothing
    baseline_rps: Callable[[], float | None] = lambda: None
    sleep: Callable[[float], Awaitable[None]] | None = None
    log: Any = field(default_factory=lambda: structlog.get_logger("agent.workflow"))

    def runbook(self, runbook_id: str | None) -> Any | None:
        return next((rb for rb in self.runbooks() if rb.id == runbook_id), None)

    def set_step(self, incident_id: str, step: str, status: str | None = None) -> None:
        def mutate(incident: Any) -> None:
            incident.step = step
            if status is not None:
                incident.status = status

        self.store.update(incident_id, mutate)
        self.metrics.workflow_steps_total.labels(step=step).inc()

    def record(
        self, incident_id: str, step: str, message: str, data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Append to the incident's timeline (the store is what people read) and return it for the state."""
        entry = self.store.append(incident_id, step, message, data)
        self.log.info("timeline", step=step, message=message)
        return entry.model_dump(mode="json")
