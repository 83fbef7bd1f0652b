"""Everything the app's lifespan builds, in one place the routes reach through `Depends`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from agent.clients.actions import ActionClient
from agent.clients.prometheus import PrometheusClient
from agent.clients.target import TargetClient
from agent.config import Settings
from agent.guardrails.breaker import CircuitBreakers
from agent.guardrails.kill_switch import KillSwitch
from agent.incidents.store import IncidentStore
from agent.intake.correlation import Correlator
from agent.intake.monitor import MonitorLoop
from agent.intake.queue import IntakeQueue
from agent.telemetry.metrics import AgentMetrics
from agent.workflow.runner import IncidentRunner


@dataclass
class AgentRuntime:
    settings: Settings
    registry: CollectorRegistry
    metrics: AgentMetrics
    store: IncidentStore
    target: TargetClient
    prometheus: PrometheusClient
    actions: ActionClient
    kill_switch: KillSwitch
    breakers: CircuitBreakers
    runner: IncidentRunner
    correlator: Correlator
    queue: IntakeQueue
    runbooks: Callable[[], list[Any]] = list  # the current runbooks (the library's, or a fixed list)
    library: Any | None = None  # agent.knowledge.library.RunbookLibrary, when runbooks come from files
    amendments: Any | None = None  # agent.learning.proposed.ProposedAmendments; None = disabled
    reasoning: Any | None = None  # agent.workflow.deps.Reasoning
    monitor: MonitorLoop | None = None
    knowledge: Any | None = None
    llm_enabled: bool = False
    llm: Any | None = None  # the LLM diagnoser as the workflow calls it (watched for /health)
    annotations: Any | None = None
    notes: list[str] = field(default_factory=list)

    def all_notes(self) -> list[str]:
        """Start-up notes and the runbook library's current ones (a runbook file that does not parse)."""
        return [*self.notes, *(self.library.notes if self.library is not None else [])]
