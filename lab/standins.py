"""HTTP stand-ins for the agent's neighbours, served by uvicorn on free ports in threads.

`Lab` answers as the target, the action server (catalog, actions, audit) and Prometheus do, and
records every action call; `LLMStandIn` answers OpenAI chat completions as told and keeps every
prompt. The agent's tests and `python -m lab reliability` use them where the real services are too
slow to start or cannot be made to fail on cue; the agent talks to them over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lab.runner.ports import free_port

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
    # Which alerts fire now, when a test says (several problems at once); None: the pool alert until fixed
    firing: Callable[[], list[str]] | None = None
    down: set[str] = field(default_factory=set)  # "target", "prometheus", "actions": answer 503
    on_action: Callable[[str], None] | None = None  # called as an action runs (to break things mid-incident)
    audit_status: str = "succeeded"  # what the audit says each call ended with
    extra_logs: list[str] = field(default_factory=list)  # error lines the target logs while broken
    action_answer: dict[str, Any] = field(default_factory=dict)  # more fields in each action's answer
    log_reads_since: list[str | None] = field(default_factory=list)  # `since` of each log read, in order
    # What the stand-in Prometheus answers to a query containing each key (the first that matches); any
    # other query has no data, as a series the exporter does not expose.
    prometheus_values: dict[str, float] = field(default_factory=lambda: {"target_up": 1.0, "requests": 10.0})
    # Whether a query starting with `check:` holds, as a test says (it sees the query, its range included)
    check: Callable[[str], bool] | None = None

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
            self.log_reads_since.append(since)
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
                + [
                    {
                        "ts": datetime.now(UTC).isoformat(),
                        "level": "ERROR",
                        "event": "request_failed",
                        "fields": {"error": line, "request_id": f"x{i}"},
                    }
                    for i, line in enumerate(self.extra_logs)
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
            return JSONResponse({**self.action_answer, "success": True, "action": name})

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
            if query.startswith("check:") and self.check is not None:
                result = [{"metric": {}, "value": [time.time(), "1"]}] if self.check(query) else []
            elif query.startswith("healthy:"):  # the stand-in runbooks' verification queries
                result = [{"metric": {}, "value": [time.time(), "1"]}] if self.healthy else []
            elif query.startswith("ALERTS{"):  # the incident's alerts fire until the fix
                if self.firing is not None:
                    names = self.firing()
                else:
                    still = self.alert_outlives_fix or not self.healthy
                    names = ["TargetDbPoolExhausted"] if still else []
                result = [
                    {"metric": {"alertname": name, "alertstate": "firing"}, "value": [time.time(), "1"]}
                    for name in names
                ]
            elif any(op in query for op in (" < ", " <= ", " == ", " > ", " >= ")):
                # a runbook's verification condition: it holds once the service is healthy again
                result = [{"metric": {}, "value": [time.time(), "1"]}] if self.healthy else []
            else:
                value = next((v for key, v in self.prometheus_values.items() if key in query), None)
                if "target" in self.down and "target_up" in query:
                    value = 0.0  # the exporter cannot read the target either
                result = [] if value is None else [{"metric": {}, "value": [time.time(), str(value)]}]
            return {"status": "success", "data": {"resultType": "vector", "result": result}}

        return app


@dataclass
class LabUrls:
    target: str
    action: str
    prometheus: str


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


def notification(
    alerts: list[dict[str, Any]], service: str = "target", group_key: str = ""
) -> dict[str, Any]:
    """An Alertmanager webhook (v4) body for these alerts, grouped by service."""
    return {
        "version": "4",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "sre-agent",
        "groupKey": group_key or f'{{}}:{{service="{service}"}}',
        "groupLabels": {"service": service},
        "commonLabels": {"service": service},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": alerts,
    }


# ---------------------------------------------------------------- an OpenAI-compatible LLM
class LLMStandIn:
    """Answers chat completions as told (`mode`) and keeps every request body it received.

    valid: `answer` as JSON; garbage: prose; unknown_id: `answer` with a made-up runbook id;
    hang: no answer until `release` is set (or 10 s); error: HTTP 500.
    """

    def __init__(self, answer: dict[str, Any]) -> None:
        self.mode = "valid"
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.url = ""  # the /v1 base once served
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.complete)

    def prompts(self) -> list[str]:
        return [m.get("content", "") for r in self.requests for m in r.get("messages", [])]

    async def complete(self, request: Request) -> Any:
        self.requests.append(await request.json())
        if self.mode == "hang":
            deadline = time.monotonic() + 10
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        if self.mode == "error":
            return JSONResponse({"error": {"message": "model overloaded", "type": "server_error"}}, 500)
        content = {
            "valid": json.dumps(self.answer),
            "garbage": "I think it is probably the database, maybe?",
            "unknown_id": json.dumps({**self.answer, "diagnosis_id": "cosmic-rays"}),
            "hang": json.dumps(self.answer),
        }[self.mode]
        return {
            "id": "chatcmpl-standin",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "stand-in",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
            "usage": {"prompt_tokens": 1234, "completion_tokens": 56, "total_tokens": 1290},
        }
