"""The agent tests' kit: small real HTTP stand-ins for the target, the action server and Prometheus,
served by uvicorn on free ports in threads, plus the agent's workflow wiring pointed at them."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
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
from lab.runner.ports import free_port

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ACTION_TOKEN = "action-secret"


# ---------------------------------------------------------------- serving apps on real ports
class ServedApp:
    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("stand-in server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


# ---------------------------------------------------------------- the lab stand-in
@dataclass
class Lab:
    """One broken service: healthy again once `fix_action` is called (or never, when it is None)."""

    healthy: bool = False
    fix_action: str | None = "remediate-db-pool-exhaustion"
    catalog: list[str] = field(
        default_factory=lambda: [
            "restart-target",
            "remediate-db-pool-exhaustion",
            "kill-blocking-queries",
            "rollback-release",
            "enable-dependency-fallback",
            "enable-rate-limit",
            "clean-disk",
        ]
    )
    calls: list[dict[str, Any]] = field(default_factory=list)
    failing_actions: set[str] = field(default_factory=set)
    prometheus_queries: list[str] = field(default_factory=list)
    action_delay_seconds: float = 0.0
    alert_outlives_fix: bool = False  # the paging alert goes on firing after the fix (a wrong fix)
    down: set[str] = field(default_factory=set)  # "target", "prometheus", "actions": answer 503
    on_action: Callable[[str], None] | None = None  # called as an action runs (to break things mid-incident)
    audit_status: str = "succeeded"  # what the audit says each call ended with

    def _unavailable(self, part: str) -> JSONResponse | None:
        return JSONResponse({"error": f"{part} unavailable"}, status_code=503) if part in self.down else None

    def target_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/v1/health")
        def health() -> JSONResponse:
            if down := self._unavailable("target"):
                return down
            status = "healthy" if self.healthy else "unhealthy"
            checks = {
                "database": {"status": "ok", "latency_ms": 1.0, "detail": ""},
                "pool": {"status": "ok" if self.healthy else "failing", "detail": "10/10 checked out"},
            }
            return JSONResponse(
                {"status": status, "release": "2026.11.3", "uptime_seconds": 100.0, "checks": checks},
                status_code=200 if self.healthy else 503,
            )

        @app.get("/api/v1/metrics")
        def metrics() -> Any:
            if down := self._unavailable("target"):
                return down
            return {
                "window_seconds": 60,
                "error_rate": 0.5 if self.healthy else 35.0,
                "avg_response_time_ms": 20.0,
                "p95_response_time_ms": 50.0 if self.healthy else 2100.0,
                "requests_per_second": 10.0,
                "requests_total": 5000,
                "errors_total": 120,
                "throttled_total": 0,
                "db_query_avg_ms": 2.0,
                "dependency_avg_ms": 5.0,
                "dependency_errors_total": 0,
                "memory_rss_bytes": 80_000_000,
                "cpu_seconds_total": 12.0,
                "cpu_ratio": "not-a-number",  # a bad field: the lenient model drops it
                "disk_used_bytes": 1000,
                "disk_quota_bytes": 64_000_000,
                "disk_used_ratio": 0.01,
                "release": "2026.11.3",
                "release_changed_at": time.time() - 86400,
                "started_at": 0,
                "uptime_seconds": 100.0,
                "rate_limit_rps": None,
                "dependency_fallback": False,
            }

        @app.get("/api/v1/pool/status")
        def pool() -> Any:
            if down := self._unavailable("target"):
                return down
            return {
                "size": 5,
                "checked_out": 2 if self.healthy else 10,
                "overflow": 0,
                "max_overflow": 5,
                "checked_in": 3,
                "waiting": 0 if self.healthy else 4,
                "utilization": 20.0 if self.healthy else 100.0,
                "pool_health": "healthy",
                "timeout_seconds": 2.0,
            }

        @app.get("/api/v1/logs")
        def logs(level: str = "INFO", limit: int = 100, since: str | None = None) -> Any:
            if down := self._unavailable("target"):
                return down
            lines = (
                []
                if self.healthy
                else [
                    {
                        "ts": datetime.now(UTC).isoformat(),
                        "level": "ERROR",
                        "event": "request_failed",
                        "fields": {
                            "error": f"QueuePool limit of size 5 overflow 5 reached, connection timed out, "
                            f"timeout {2 + i / 10:.2f}",
                            "request_id": f"r{i}",
                        },
                    }
                    for i in range(3)
                ]
            )
            return {"logs": lines}

        return app

    def action_app(self) -> FastAPI:
        app = FastAPI()

        def authorized(request: Request) -> bool:
            return request.headers.get("authorization") == f"Bearer {ACTION_TOKEN}"

        @app.get("/action/catalog")
        def catalog() -> Any:
            if down := self._unavailable("actions"):
                return down
            return {"actions": [{"name": n, "risk": "low", "description": n} for n in self.catalog]}

        @app.post("/action/{name}")
        async def run(name: str, request: Request) -> JSONResponse:
            if not authorized(request):
                return JSONResponse({"detail": "invalid bearer token"}, status_code=401)
            if down := self._unavailable("actions"):
                return down
            body = await request.json() if await request.body() else {}
            self.calls.append({"action": name, "params": body, "ts": datetime.now(UTC).isoformat()})
            if self.on_action is not None:
                self.on_action(name)
            if name in self.failing_actions:
                return JSONResponse({"success": False, "error": "it broke"}, status_code=500)
            if name == self.fix_action:
                self.healthy = True
            await asyncio.sleep(self.action_delay_seconds)  # the work is done; the answer is slow
            return JSONResponse({"success": True, "action": name})

        @app.get("/action/verify-target-health")
        def verify() -> Any:
            if down := self._unavailable("actions"):
                return down
            return {
                "is_healthy": self.healthy,
                "status": "healthy" if self.healthy else "unhealthy",
                "checks": {},
                "error_rate": 0.5 if self.healthy else 35.0,
            }

        @app.get("/action/audit")
        def audit() -> Any:
            if down := self._unavailable("actions"):
                return down
            # The action server's shape (lab/action/audit.py), newest first.
            records = [
                {"at": c["ts"], "action": c["action"], "parameters": c["params"], "status": self.audit_status}
                for c in reversed(self.calls)
            ]
            return {"records": records}

        return app

    def combined_app(self) -> FastAPI:
        app = FastAPI()
        for part in (self.target_app(), self.action_app(), self.prometheus_app()):
            app.router.routes.extend(part.router.routes)
        return app

    def prometheus_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/-/ready")
        def ready() -> str:
            return "ready"

        @app.get("/api/v1/query")
        def query(query: str) -> Any:
            if down := self._unavailable("prometheus"):
                return down
            self.prometheus_queries.append(query)
            if query.startswith("bad:"):  # what Prometheus answers a query it cannot parse
                error = {"status": "error", "errorType": "bad_data", "error": "parse error"}
                return JSONResponse(error, status_code=400)
            if query.startswith("healthy:"):  # the stand-in runbooks' verification queries
                result = [{"metric": {}, "value": [time.time(), "1"]}] if self.healthy else []
            elif query.startswith("ALERTS{"):  # the incident's alerts fire until the fix
                firing = {"alertname": "TargetDbPoolExhausted", "alertstate": "firing"}
                still = self.alert_outlives_fix or not self.healthy
                result = [{"metric": firing, "value": [time.time(), "1"]}] if still else []
            else:
                result = [{"metric": {}, "value": [time.time(), "10"]}]
            return {"status": "success", "data": {"resultType": "vector", "result": result}}

        return app


@dataclass
class LabUrls:
    target: str
    action: str
    prometheus: str


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
        runbooks: list[Any] | None = None,
        reasoning: Reasoning | None = None,
        interrupt_after: list[str] | None = None,
        knowledge: Any | None = None,
        annotations: Any | None = None,
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
        loaded = runbooks if runbooks is not None else standin_runbooks()
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
            runbooks=lambda: loaded,
            knowledge=knowledge,
            annotations=annotations,
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


def firing_alert(
    name: str = "TargetDbPoolExhausted",
    fingerprint: str = "fp1",
    starts: str = "2026-11-24T10:00:00Z",
    status: str = "firing",
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "service": "target", "severity": "critical"},
        "annotations": {"summary": f"{name} summary"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
