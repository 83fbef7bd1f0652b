"""The HTTP clients against real local servers: lenient reads, typed errors, retries on reads only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from agent_testkit import ServedApp
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from agent.clients.actions import ActionClient
from agent.clients.prometheus import PrometheusClient
from agent.clients.target import TargetClient
from agent.workflow.log_signatures import log_message, signature
from lab.runner.ports import free_port


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
        actions = ActionClient(http, url, SecretStr("t"))
        catalog = await actions.catalog()
        assert catalog.ok and [a.name for a in catalog.value] == ["restart-target", "clean-disk"]
        assert counter["catalog"] == 3
        outcome = await actions.run("restart-target", {})
        assert not outcome.ok and outcome.error == "HTTP 503" and counter["run"] == 1

        prometheus = PrometheusClient(http, url)
        result = await prometheus.query("up")
        assert result.ok and result.first() == 2.5 and len(result.samples) == 2
        bad = await prometheus.query("bad(")
        assert bad.error == "parse error" and bad.query == "bad("
        ranged = await prometheus.query_range("up", 0, 2, 1)
        assert ranged.series[0].values == [(1.0, 1.0), (2.0, 2.0)]

        metrics = await TargetClient(http, url).metrics()
        assert metrics.ok and metrics.value.error_rate is None and metrics.value.requests_per_second == 12.5


async def test_unreachable_services_are_errors_not_exceptions() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with httpx.AsyncClient(timeout=1) as http:
        health = await TargetClient(http, dead).health()
        assert not health.ok and health.error.startswith("unreachable")
        assert (await PrometheusClient(http, dead).query("up")).error.startswith("unreachable")
        verdict = await ActionClient(http, dead, SecretStr("")).verify_target_health()
        assert verdict.value is None and verdict.error


def test_log_signatures_strip_numbers_ids_and_paths() -> None:
    a = log_message(
        "request_failed", {"error": "QueuePool limit of size 5 overflow 5 reached, timeout 2.00"}, None
    )
    b = log_message(
        "request_failed", {"error": "QueuePool limit of size 5 overflow 5 reached, timeout 2.10"}, None
    )
    assert signature(a) == signature(b)
    tb = (
        'Traceback (most recent call last):\n  File "/srv/app.py", line 3\n'
        "OSError: [Errno 28] No space left on device"
    )
    assert (
        signature(log_message("write_failed", {}, tb))
        == "write_failed: OSError: [Errno <n>] No space left on device"
    )
    assert "<id>" in signature("order 123e4567-e89b-12d3-a456-426614174000 failed")


def test_log_messages_name_the_service_a_call_failed_against() -> None:
    fields = {"service": "inventory", "timeout_seconds": 1.0, "item": "gasket"}
    assert log_message("dependency call timed out", fields, None) == "dependency call timed out: inventory"
