"""The agent tests' kit: the agent's workflow wiring pointed at the HTTP stand-ins of `lab.standins`
(the target, the action server and Prometheus, served on free ports), and stand-in runbooks."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, SecretStr

from agent.clients.actions import ActionClient
from agent.clients.prometheus import PrometheusClient
from agent.clients.target import TargetClient
from agent.config import Settings
from agent.diagnosis.models import Diagnosis, Symptoms
from agent.guardrails.breaker import CircuitBreakers
from agent.guardrails.kill_switch import KillSwitch
from agent.guardrails.policy import Guardrails
from agent.incidents.store import IncidentStore
from agent.intake.correlation import Correlator
from agent.knowledge.runbooks import Runbook, Verification
from agent.telemetry.metrics import AgentMetrics
from agent.workflow.deps import Reasoning, WorkflowDeps
from agent.workflow.graph import create_graph
from agent.workflow.runner import IncidentRunner
from lab.standins import ACTION_TOKEN, Lab, LabUrls, LLMStandIn, ServedApp, firing_alert

__all__ = ["ACTION_TOKEN", "LLMStandIn", "Lab", "LabUrls", "ServedApp", "firing_alert"]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


# ---------------------------------------------------------------- stand-in runbooks and reasoning
def standin_runbook(
    rid: str, alert: str, actions: list[dict[str, Any]], promql: list[str] | None = None
) -> Runbook:
    """A real runbook (the agent's model) with test-sized verification times."""
    front = {
        "id": rid,
        "title": rid,
        "alerts": [alert],
        "signals": [{"signal": f"alert:{alert}", "op": "==", "value": True, "description": alert}],
        "actions": actions,
        "escalate_when": "ask the database owner",
        "verification": {
            "promql": promql or [f"healthy:{rid}"],
            "hold_seconds": 0.2,
            "deadline_seconds": 1.5,
        },
    }
    return Runbook(**front, body="", path=f"{rid}.md", content_hash=rid)


def standin_runbooks() -> list[Runbook]:
    """Runbooks the tests control (the real runbooks/ folder is tuned for the real lab)."""
    target_down = standin_runbook(
        "target-down", "TargetDown", [{"action": "restart-target", "risk": "medium"}]
    )
    health_only = Verification.model_construct(promql=[], hold_seconds=0.2, deadline_seconds=1.5)
    return [
        standin_runbook(
            "db-pool-exhaustion",
            "TargetDbPoolExhausted",
            [
                {"action": "remediate-db-pool-exhaustion", "risk": "low"},
                {
                    "action": "remediate-db-pool-exhaustion",
                    "params": {"escalate_to_db_restart": True},
                    "risk": "low",
                },
                {"action": "restart-target", "risk": "medium"},
            ],
        ),
        target_down.model_copy(update={"verification": health_only}),  # verified by the action server
        standin_runbook(
            "bad-release", "TargetErrorsAfterRelease", [{"action": "rollback-release", "risk": "high"}]
        ),
        standin_runbook(
            "traffic-surge",
            "TargetTrafficSurge",
            [
                {
                    "action": "enable-rate-limit",
                    "params": {"requests_per_second": "{{ 2 * baseline_rps }}"},
                    "risk": "low",
                },
            ],
        ),
    ]


class _Check(BaseModel):
    name: str
    passed: bool
    detail: str = ""


def standin_reasoning() -> Reasoning:
    def diagnose(symptoms: Symptoms, runbooks: list[Any], past: list[Any]) -> Diagnosis:
        for runbook in runbooks:
            if set(runbook.alerts) & symptoms.alert_names():
                return Diagnosis(
                    diagnosis_id=runbook.id,
                    confidence=0.9,
                    root_cause=f"{runbook.id} matched",
                    evidence=[f"alert {name}" for name in sorted(symptoms.alert_names())],
                )
        return Diagnosis(evidence=["nothing matched"])

    def investigate(symptoms: Symptoms, runbooks: list[Any], diagnosis: Diagnosis) -> Any:
        check = _Check(name="pool_saturated", passed=(symptoms.pool_utilization_ratio or 0) > 0.9, detail="")
        return _Investigation(checks=[check], diagnosis=diagnosis)

    return Reasoning(
        diagnose=diagnose, investigate=investigate, symptoms_query=lambda s: " ".join(sorted(s.alert_names()))
    )


class _Investigation(BaseModel):
    checks: list[_Check]
    diagnosis: Diagnosis


# ---------------------------------------------------------------- the agent's workflow wired to the stand-ins
def agent_settings(tmp_path: Path, urls: LabUrls | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        AGENT_DATA_DIR=tmp_path / "agent",
        ACTION_TOKEN=SecretStr(ACTION_TOKEN),
        VERIFY_HOLD_SECONDS=0.2,
        VERIFY_DEADLINE_SECONDS=1.5,
        VERIFY_POLL_SECONDS=0.05,
        OBSERVE_WINDOW_SECONDS=0.4,
        OBSERVE_INTERVAL_SECONDS=0.1,
        HTTP_TIMEOUT_SECONDS=2.0,
        RUNBOOKS_PATH=tmp_path / "no-runbooks",
        VECTOR_STORE_PATH=tmp_path / "knowledge.json",
        EMBEDDING_MODEL="",  # lexical: a test that wants the model passes it (loaded once per session)
    )
    if urls is not None:
        values |= dict(
            TARGET_API_BASE_URL=urls.target, ACTION_SERVER_URL=urls.action, PROMETHEUS_URL=urls.prometheus
        )
    values |= overrides
    return Settings(_env_file=None, **values)


@dataclass
class Workflow:
    settings: Settings
    store: IncidentStore
    metrics: AgentMetrics
    registry: CollectorRegistry
    deps: WorkflowDeps
    runner: IncidentRunner
    correlator: Correlator
    saver: AsyncSqliteSaver

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


class WorkflowFactory:
    """Builds the workflow like the app does; `build()` again with the same paths is an agent restart."""

    def __init__(self, tmp_path: Path, urls: LabUrls) -> None:
        self.tmp_path, self.urls = tmp_path, urls
        self._open: list[tuple[httpx.AsyncClient, Any, IncidentStore, IncidentRunner]] = []
        self.breakers: CircuitBreakers | None = None

    async def build(
        self,
        runbooks: list[Any] | Callable[[], list[Any]] | None = None,
        reasoning: Reasoning | None = None,
        interrupt_after: list[str] | None = None,
        knowledge: Any | None = None,
        annotations: Any | None = None,
        amendments: Any | None = None,
        **overrides: Any,
    ) -> Workflow:
        settings = agent_settings(self.tmp_path, self.urls, **overrides)
        settings.AGENT_DATA_DIR.mkdir(parents=True, exist_ok=True)
        registry = CollectorRegistry()
        metrics = AgentMetrics(registry)
        store = IncidentStore(settings.AGENT_DATA_DIR / "incidents.db")
        http = httpx.AsyncClient(timeout=settings.HTTP_TIMEOUT_SECONDS)
        saver_cm = AsyncSqliteSaver.from_conn_string(str(settings.AGENT_DATA_DIR / "checkpoints.db"))
        saver = await saver_cm.__aenter__()
        kill_switch = KillSwitch(store, settings.REMEDIATION_ENABLED, metrics)
        breakers = CircuitBreakers(
            settings.CIRCUIT_BREAKER_FAILURES, settings.CIRCUIT_BREAKER_COOLOFF_SECONDS, metrics
        )
        self.breakers = breakers
        fixed = standin_runbooks() if runbooks is None or callable(runbooks) else runbooks
        current = runbooks if callable(runbooks) else lambda: fixed  # a callable: a RunbookLibrary's
        deps = WorkflowDeps(
            settings=settings,
            store=store,
            target=TargetClient(http, settings.TARGET_API_BASE_URL),
            prometheus=PrometheusClient(http, settings.PROMETHEUS_URL),
            actions=ActionClient(
                http, settings.ACTION_SERVER_URL, settings.ACTION_TOKEN, settings.ACTION_TIMEOUT_SECONDS
            ),
            guardrails=Guardrails(settings, store, kill_switch, breakers),
            metrics=metrics,
            reasoning=reasoning or standin_reasoning(),
            runbooks=current,
            knowledge=knowledge,
            annotations=annotations,
            amendments=amendments,
        )
        runner = IncidentRunner(
            create_graph(saver, deps, interrupt_after=interrupt_after),
            store,
            metrics,
            settings.MAX_CONCURRENT_INCIDENTS,
        )
        correlator = Correlator(store, metrics, runner.start)
        self._open.append((http, saver_cm, store, runner))
        return Workflow(settings, store, metrics, registry, deps, runner, correlator, saver)

    async def close(self, workflow: Workflow) -> None:
        """Stop one built workflow the way a process exit would: tasks cancelled, connections closed."""
        for entry in [e for e in self._open if e[3] is workflow.runner]:
            await self._close(entry)

    async def close_all(self) -> None:
        for entry in list(self._open):
            await self._close(entry)

    async def _close(self, entry: tuple[httpx.AsyncClient, Any, IncidentStore, IncidentRunner]) -> None:
        http, saver_cm, store, runner = entry
        self._open.remove(entry)
        await runner.shutdown()
        await http.aclose()
        await saver_cm.__aexit__(None, None, None)
        store.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
