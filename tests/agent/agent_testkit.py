"""The agent tests' kit: the agent's workflow wiring pointed at the HTTP stand-ins of `lab.standins`
(the target, the action server and Prometheus, served on free ports), stand-in runbooks, and alerts as
Alertmanager sends them."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from agent.app import create_app
from agent.catalog.catalog import ServiceCatalog
from agent.composition import Parts, build_runtime
from agent.config import LOCAL_HOSTS, Settings
from agent.domain.diagnosis import Diagnosis
from agent.domain.signals import Symptoms
from agent.guardrails.breaker import CircuitBreakers
from agent.incidents.store import IncidentStore
from agent.intake.alertmanager import Alert
from agent.intake.correlation import Correlator
from agent.knowledge.runbooks import Runbook, Verification
from agent.runtime import AgentRuntime
from agent.telemetry.metrics import AgentMetrics
from agent.workflow.deps import Reasoning, WorkflowDeps
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
    target_down = standin_runbook("service-down", "TargetDown", [{"action": "restart", "risk": "medium"}])
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
                {"action": "restart", "risk": "medium"},
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
        pool = symptoms.value("pool_utilization_ratio")
        check = _Check(name="pool_saturated", passed=isinstance(pool, float) and pool > 0.9, detail="")
        return _Investigation(checks=[check], diagnosis=diagnosis)

    return Reasoning(
        diagnose=diagnose, investigate=investigate, symptoms_query=lambda s: " ".join(sorted(s.alert_names()))
    )


class _Investigation(BaseModel):
    checks: list[_Check]
    diagnosis: Diagnosis


# ---------------------------------------------------------------- the agent's workflow wired to the stand-ins
ROOT = Path(__file__).resolve().parents[2]


def standin_env(urls: LabUrls | None) -> dict[str, str]:
    """What the lab's catalog entries read from the environment, pointed at the stand-ins."""
    env = {"ACTION_TOKEN": ACTION_TOKEN}
    if urls is not None:
        env |= {
            "TARGET_API_BASE_URL": urls.target,
            "ACTION_SERVER_URL": urls.action,
            "WORKER_ACTION_URL": urls.action,
        }
    return env


def lab_catalog(urls: LabUrls | None) -> ServiceCatalog:
    """The real service catalog (services/, signals/) with its URLs at the stand-ins."""
    catalog = ServiceCatalog(ROOT / "services", [ROOT / "signals"], standin_env(urls))
    catalog.refresh()
    return catalog


def agent_app(settings: Settings, urls: LabUrls | None, **parts: Any) -> FastAPI:
    """The agent's app against the stand-ins: the lab's catalog with its URLs there, and any parts given
    (the rest as `python -m agent` builds them from `settings`)."""
    return create_app(settings, Parts(**{"catalog": lab_catalog(urls), "env": standin_env(urls), **parts}))


def agent_settings(tmp_path: Path, urls: LabUrls | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        AGENT_DATA_DIR=tmp_path / "agent",
        VERIFY_HOLD_SECONDS=0.2,
        VERIFY_DEADLINE_SECONDS=1.5,
        VERIFY_POLL_SECONDS=0.05,
        OBSERVE_WINDOW_SECONDS=0.4,
        OBSERVE_INTERVAL_SECONDS=0.1,
        HTTP_TIMEOUT_SECONDS=2.0,
        RUNBOOKS_PATH=tmp_path / "no-runbooks",
        SERVICES_PATH=ROOT / "services",
        SIGNAL_PACKS_PATH=ROOT / "signals",
        VECTOR_STORE_PATH=tmp_path / "knowledge.json",
        PROPOSED_RUNBOOKS_ENABLED=False,  # a test of proposals turns them on
        ACTION_COOLDOWN_SECONDS=0,  # pages come back to back here; a test of cooldowns sets one
        EMBEDDING_MODEL="",  # lexical: a test that wants the model passes it (loaded once per session)
        # Tests page and approve without tokens unless they give some; a test of the refusal passes False.
        ALLOW_UNAUTHENTICATED=True,
        ALLOWED_HOSTS=[*LOCAL_HOSTS, "testserver"],  # the dev default and TestClient's host
    )
    if urls is not None:
        values |= dict(PROMETHEUS_URL=urls.prometheus)
    values |= overrides
    return Settings(_env_file=None, **values)


@dataclass
class Workflow:
    runtime: AgentRuntime

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def store(self) -> IncidentStore:
        return self.runtime.store

    @property
    def metrics(self) -> AgentMetrics:
        return self.runtime.metrics

    @property
    def registry(self) -> CollectorRegistry:
        return self.runtime.registry

    @property
    def deps(self) -> WorkflowDeps:
        return self.runtime.deps

    @property
    def runner(self) -> IncidentRunner:
        return self.runtime.runner

    @property
    def correlator(self) -> Correlator:
        return self.runtime.correlator

    @property
    def saver(self) -> Any:
        return self.runtime.saver

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


class WorkflowFactory:
    """Builds the agent's runtime the way the app does (`build_runtime`), without its background loops;
    `build()` again with the same paths is an agent restart."""

    def __init__(self, tmp_path: Path, urls: LabUrls) -> None:
        self.tmp_path, self.urls = tmp_path, urls
        self._open: list[tuple[Workflow, contextlib.AsyncExitStack]] = []
        self.breakers: CircuitBreakers | None = None

    async def build(
        self,
        runbooks: list[Any] | Callable[[], list[Any]] | None = None,
        reasoning: Reasoning | None = None,
        interrupt_after: list[str] | None = None,
        knowledge: Any | None = None,
        annotations: Any | None = None,
        catalog: ServiceCatalog | None = None,
        **overrides: Any,
    ) -> Workflow:
        settings = agent_settings(self.tmp_path, self.urls, **overrides)
        fixed = standin_runbooks() if runbooks is None or callable(runbooks) else runbooks
        parts = Parts(
            reasoning=reasoning or standin_reasoning(),
            runbooks=fixed,
            knowledge=knowledge,
            annotations=annotations,
            catalog=catalog or lab_catalog(self.urls),
            env=standin_env(self.urls),
            interrupt_after=interrupt_after,
            background=False,
            recover=False,
        )
        stack = contextlib.AsyncExitStack()
        runtime = await stack.enter_async_context(build_runtime(settings, parts))
        if callable(runbooks):  # a RunbookLibrary's: the workflow reads the current ones each time
            runtime.deps.runbooks = runbooks
        self.breakers = runtime.breakers
        workflow = Workflow(runtime)
        self._open.append((workflow, stack))
        return workflow

    async def close(self, workflow: Workflow) -> None:
        """Stop one built workflow the way a process exit would: tasks cancelled, connections closed."""
        for entry in [e for e in self._open if e[0] is workflow]:
            self._open.remove(entry)
            await entry[1].aclose()

    async def close_all(self) -> None:
        for workflow, stack in list(self._open):
            self._open.remove((workflow, stack))
            await stack.aclose()


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------- alerts as Alertmanager sends them
# A webhook notification (version 4) with one firing alert of the target's pool.
FIRING = {
    "receiver": "sre-agent",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "TargetDbPoolExhausted", "service": "target", "severity": "critical"},
            "annotations": {
                "summary": "DB pool exhausted",
                "description": "waiting > 0 for 1m",
                "runbook_url": "runbooks/db-pool-exhaustion.md",
            },
            "startsAt": "2026-11-24T10:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=target_db_pool_waiting+%3E+0",
            "fingerprint": "5f1c8d3a2b4e6f70",
        }
    ],
    "groupLabels": {"service": "target"},
    "commonLabels": {"alertname": "TargetDbPoolExhausted", "service": "target", "severity": "critical"},
    "commonAnnotations": {"summary": "DB pool exhausted"},
    "externalURL": "http://127.0.0.1:9093",
    "version": "4",
    "groupKey": '{}:{service="target"}',
    "truncatedAlerts": 0,
}


def pool_alert(fingerprint: str = "fp1", name: str = "TargetDbPoolExhausted") -> Alert:
    """One firing alert of the target's (the pool's by default)."""
    return Alert.model_validate(
        {
            "status": "firing",
            "labels": {"alertname": name, "service": "target", "severity": "critical"},
            "annotations": {"summary": "pool exhausted"},
            "startsAt": "2026-11-24T10:00:00Z",
            "fingerprint": fingerprint,
        }
    )


async def open_incident(wf: Workflow, alert: Alert) -> str:
    """The alert's incident opened as the webhook would open it; its id."""
    result = await wf.correlator.open_or_merge(
        source="alertmanager", service="target", group_key='{}:{service="target"}', alerts=[alert]
    )
    assert result.created and result.incident_id
    return result.incident_id
