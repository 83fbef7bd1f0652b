"""The HTTP clients, action backend and probes against real local servers: lenient reads, typed errors,
retries on reads only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from agent.actions.http import HttpActionBackend
from agent.catalog.catalog import ServiceCatalog
from agent.catalog.services import HttpJsonProbe, ProbeSignal, ServiceEntry
from agent.clients.prometheus import PrometheusClient
from agent.signals.log_signatures import signature
from agent.signals.probes import JsonProbe, log_message
from lab.runner.ports import free_port

from .agent_testkit import ServedApp

LOG_MESSAGE = ["event", "fields.error", "fields.service", "traceback"]


def backend(http: httpx.AsyncClient, url: str, **options: Any) -> HttpActionBackend:
    return HttpActionBackend(http, url, SecretStr("t"), health="verify-health", **options)


def metrics_probe(url: str) -> tuple[JsonProbe, Any]:
    probe = HttpJsonProbe(
        kind="http_json",
        name="metrics",
        url=f"{url}/api/v1/metrics",
        signals={
            "error_ratio": ProbeSignal(path="error_rate", scale=0.01, unit="ratio"),
            "requests_per_second": ProbeSignal(path="requests_per_second", unit="per_second"),
        },
    )
    entry = ServiceEntry(service="svc", owns=['service="svc"'], selector='{job="svc"}', probes=[probe])
    return probe, ServiceCatalog.of([entry]).get("svc")


def flaky_app(counter: dict[str, int]) -> FastAPI:
    app = FastAPI()

    @app.get("/action/catalog")
    def catalog() -> JSONResponse:
        counter["catalog"] = counter.get("catalog", 0) + 1
        if counter["catalog"] < 3:
            return JSONResponse({"detail": "busy"}, status_code=503)
        return JSONResponse(["restart-target", {"name": "clean-disk", "risk": "low", "params": "odd"}])

    @app.post("/action/{name}")
    def run(name: str) -> JSONResponse:
        counter["run"] = counter.get("run", 0) + 1
        return JSONResponse({"success": False, "error": "supervisor busy"}, status_code=503)

    @app.get("/api/v1/query")
    def query(query: str) -> dict[str, Any]:
        if query == "bad(":
            return JSONResponse({"status": "error", "errorType": "bad_data", "error": "parse error"}, 400)
        if query == "busy":
            return JSONResponse({"status": "error", "errorType": "unavailable", "error": "overloaded"}, 503)
        return {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {"metric": {"job": "x"}, "value": [time.time(), "NaN"]},
                    {"metric": {"job": "y"}, "value": [time.time(), "2.5"]},
                ],
            },
        }

    @app.get("/api/v1/query_range")
    def query_range(query: str) -> dict[str, Any]:
        return {
            "status": "success",
            "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"], [2, "2"]]}]},
        }

    @app.get("/api/v1/metrics")
    def metrics() -> dict[str, Any]:
        return {"error_rate": "lots", "requests_per_second": 12.5, "unknown": 1}

    return app


async def test_reads_retry_and_actions_do_not(serve: Callable[[FastAPI], ServedApp]) -> None:
    counter: dict[str, int] = {}
    url = serve(flaky_app(counter)).url
    async with httpx.AsyncClient(timeout=2) as http:
        actions = backend(http, url)
        catalog = await actions.catalog()
        assert catalog.ok and [a.name for a in catalog.value] == ["restart-target", "clean-disk"]
        assert counter["catalog"] == 3
        outcome = await actions.run("restart-target", {})
        assert not outcome.ok and outcome.error == "HTTP 503" and counter["run"] == 1

        prometheus = PrometheusClient(http, url)
        result = await prometheus.query("up")
        assert result.ok and result.first() == 2.5 and len(result.samples) == 2
        bad = await prometheus.query("bad(")
        assert bad.error == "parse error" and bad.query == "bad(" and not bad.unavailable
        busy = await prometheus.query("busy")
        assert busy.error == "overloaded" and busy.unavailable
        ranged = await prometheus.query_range("up", 0, 2, 1)
        assert ranged.series[0].values == [(1.0, 1.0), (2.0, 2.0)]

        probe, service = metrics_probe(url)
        read = await JsonProbe(http, probe).read(service)
        assert read.readings["requests_per_second"].value == 12.5 and read.gaps == []
        assert "error_ratio" not in read.readings  # "lots" is not a number: no value, not an error


async def test_unreachable_services_are_errors_not_exceptions() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with httpx.AsyncClient(timeout=1) as http:
        probe, service = metrics_probe(dead)
        read = await JsonProbe(http, probe).read(service)
        assert read.gaps == ["metrics"] and read.evidence["metrics"]["error"].startswith("unreachable")
        down = await PrometheusClient(http, dead).query("up")
        assert down.error.startswith("unreachable") and down.unavailable
        verdict = await backend(http, dead).health_verdict()
        assert verdict.value is None and verdict.error
        outcome = await backend(http, dead).run("restart-target", {})
        assert not outcome.ok and not outcome.may_have_run  # it never left: nothing can have run


async def test_an_action_answer_that_never_comes_may_have_run(serve: Callable[[FastAPI], ServedApp]) -> None:
    app = FastAPI()

    @app.post("/action/{name}")
    async def slow(name: str) -> dict[str, Any]:
        await asyncio.sleep(2)
        return {"success": True}

    url = serve(app).url
    async with httpx.AsyncClient(timeout=2) as http:
        outcome = await backend(http, url, action_timeout_seconds=0.2).run("clean-disk", {})
    assert not outcome.ok and outcome.error == "timeout" and outcome.may_have_run


async def test_the_audit_is_read_in_the_action_servers_shape(serve: Callable[[FastAPI], ServedApp]) -> None:
    """`GET /action/audit` as lab/action/app.py answers it: records, newest first, `at` and `status`."""
    app = FastAPI()

    @app.get("/action/audit")
    def audit() -> dict[str, Any]:
        return {
            "records": [
                {"at": "2026-12-01T10:00:05Z", "action": "clean-disk", "parameters": {}, "status": "failed"},
                {"at": "2026-12-01T10:00:01Z", "action": "restart-target", "status": "succeeded"},
                {"action": "rollback-release"},
            ]
        }

    url = serve(app).url
    async with httpx.AsyncClient(timeout=2) as http:
        fetched = await backend(http, url).audit()
    assert fetched.ok and fetched.value is not None
    assert [(e.action, e.ok) for e in fetched.value] == [
        ("clean-disk", False),
        ("restart-target", True),
        ("rollback-release", None),
    ]
    assert fetched.value[0].ts is not None and fetched.value[0].ts.minute == 0


def line(event: str, fields: dict[str, Any], traceback: str | None = None) -> str:
    """A log entry's message as a log probe with LOG_MESSAGE's paths reads it."""
    return log_message(LOG_MESSAGE, {"event": event, "fields": fields, "traceback": traceback})


def test_log_signatures_strip_numbers_ids_and_paths() -> None:
    a = line("request_failed", {"error": "QueuePool limit of size 5 overflow 5 reached, timeout 2.00"})
    b = line("request_failed", {"error": "QueuePool limit of size 5 overflow 5 reached, timeout 2.10"})
    assert signature(a) == signature(b)
    tb = (
        'Traceback (most recent call last):\n  File "/srv/app.py", line 3\n'
        "OSError: [Errno 28] No space left on device"
    )
    expected = "write_failed: OSError: [Errno <n>] No space left on device"
    assert signature(line("write_failed", {}, tb)) == expected
    assert "<id>" in signature("order 123e4567-e89b-12d3-a456-426614174000 failed")


def test_log_messages_name_the_service_a_call_failed_against() -> None:
    fields = {"service": "inventory", "timeout_seconds": 1.0, "item": "gasket"}
    assert line("dependency call timed out", fields) == "dependency call timed out: inventory"
