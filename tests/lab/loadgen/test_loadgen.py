"""The load generator against a real HTTP stand-in that counts what arrives (and the real queue worker):
rate, mix, limits, control."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter

import httpx
from fastapi import FastAPI, Request

from lab.loadgen.app import create_app
from lab.loadgen.config import Settings
from lab.loadgen.generator import LoadGenerator

TOKEN = "load-tok-1414"


def counting_target(delay: float = 0.0) -> tuple[FastAPI, Counter[str]]:
    app = FastAPI()
    seen: Counter[str] = Counter()

    @app.api_route("/api/v1/orders{rest:path}", methods=["GET", "POST"])
    async def orders(request: Request, rest: str) -> dict[str, object]:
        seen[request.method] += 1
        if delay:
            await asyncio.sleep(delay)
        return {"orders": [{"id": 1}, {"id": 2}]} if request.method == "GET" and not rest else {"id": 1}

    return app, seen


def wait_for(probe, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met")


def test_steady_mixed_traffic_and_the_rate_lever(servers) -> None:  # type: ignore[no-untyped-def]
    target, seen = counting_target()
    target_url = servers.serve(target)
    loadgen = servers.serve(create_app(Settings(target_url=target_url, rate_rps=40, hook_token=TOKEN)))
    # 100 requests: 70 % reads make GET > POST all but certain (4 sigma); at 40 it failed once in a while
    status = wait_for(lambda: (s := httpx.get(f"{loadgen}/status").json())["sent"] >= 100 and s, timeout=10)
    assert status["rate_rps"] == 40 and status["multiplier"] == 1.0
    assert status["errors"] == 0 and status["dropped"] == 0 and status["ok"] >= status["sent"] - 5
    assert seen["POST"] > 0 and seen["GET"] > seen["POST"]

    auth = {"Authorization": f"Bearer {TOKEN}"}
    changed = httpx.post(f"{loadgen}/_hooks/rate", json={"multiplier": 3}, headers=auth).json()
    assert changed["effective_rps"] == 120
    before, started = httpx.get(f"{loadgen}/status").json()["sent"], time.monotonic()
    time.sleep(1.0)
    rate = (httpx.get(f"{loadgen}/status").json()["sent"] - before) / (time.monotonic() - started)
    assert 80 <= rate <= 150


def test_control_api_auth_validation_and_openapi(servers) -> None:  # type: ignore[no-untyped-def]
    loadgen = servers.serve(
        create_app(Settings(target_url="http://127.0.0.1:9", rate_rps=0, hook_token=TOKEN))
    )
    url = f"{loadgen}/_hooks/rate"
    assert httpx.post(url, json={"multiplier": 2}).status_code == 401
    assert httpx.post(url, json={"multiplier": 2}, headers={"Authorization": "Bearer x"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for bad in ({"multiplier": -1}, {}, {"multiplier": "lots"}):
        response = httpx.post(url, json=bad, headers=auth)
        assert response.status_code == 422 and response.json()["detail"]
    assert (
        httpx.post(url, content=b"{", headers={**auth, "Content-Type": "application/json"}).status_code == 422
    )
    spec = httpx.get(f"{loadgen}/openapi.json")
    assert list(spec.json()["paths"]) == ["/status"] and "hook" not in spec.text.lower()


def test_slow_target_fills_in_flight_then_drops(servers) -> None:  # type: ignore[no-untyped-def]
    target, _ = counting_target(delay=1.0)
    target_url = servers.serve(target)
    settings = Settings(target_url=target_url, rate_rps=50, max_in_flight=3, request_timeout_seconds=5)
    loadgen = servers.serve(create_app(settings))
    status = wait_for(lambda: (s := httpx.get(f"{loadgen}/status").json())["dropped"] >= 5 and s)
    assert status["in_flight"] == 3 and status["sent"] == 3


def test_request_mix_is_seventy_percent_reads() -> None:
    generator = LoadGenerator(httpx.AsyncClient(), "http://127.0.0.1:9", rate_rps=10, rng=random.Random(7))
    generator._known_ids = [1, 2, 3]
    methods = Counter(generator._request()[0] for _ in range(5000))
    assert 0.27 <= methods["POST"] / 5000 <= 0.33
    bodies = [generator._request()[2] for _ in range(200)]
    assert all(b is None or (b["item"] and 1 <= b["quantity"] <= 5) for b in bodies)  # type: ignore[index]


def test_jobs_reach_the_real_worker_across_its_partitions(servers, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client.parser import text_string_to_metric_families

    from lab.worker.app import create_app as create_worker
    from lab.worker.config import Settings as WorkerSettings

    worker = servers.serve(create_worker(WorkerSettings(data_dir=tmp_path, job_seconds=0.001)))
    settings = Settings(
        target_url="http://127.0.0.1:9", rate_rps=0, worker_url=worker, jobs_rps=30, hook_token=TOKEN
    )
    loadgen = servers.serve(create_app(settings))
    jobs = wait_for(lambda: (s := httpx.get(f"{loadgen}/status").json()["jobs"])["ok"] >= 60 and s, timeout=8)
    assert jobs["rate_rps"] == 30 and jobs["errors"] == 0

    def sent() -> float:
        text = httpx.get(f"{worker}/metrics").text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        return sum(
            s.value for s in families["messaging_client_sent_messages"].samples if s.name.endswith("_total")
        )

    assert sent() >= 60
    with sqlite3.connect(tmp_path / "queue.db") as conn:
        partitions = {row[0] for row in conn.execute("SELECT DISTINCT partition FROM jobs")}
        kinds = dict(conn.execute("SELECT json_extract(payload, '$.kind'), COUNT(*) FROM jobs GROUP BY 1"))
    assert partitions == set(range(8)) and kinds["invoice"] > kinds.get("refund", 0)

    auth = {"Authorization": f"Bearer {TOKEN}"}
    changed = httpx.post(f"{loadgen}/_hooks/jobs-rate", json={"multiplier": 3}, headers=auth).json()
    assert changed["effective_rps"] == 90 and httpx.get(f"{loadgen}/status").json()["multiplier"] == 1.0
    before, started = httpx.get(f"{loadgen}/status").json()["jobs"]["sent"], time.monotonic()
    time.sleep(1.0)
    rate = (httpx.get(f"{loadgen}/status").json()["jobs"]["sent"] - before) / (time.monotonic() - started)
    assert 60 <= rate <= 115


def test_without_a_worker_url_no_jobs_and_the_jobs_lever_says_so(servers) -> None:  # type: ignore[no-untyped-def]
    loadgen = servers.serve(
        create_app(Settings(target_url="http://127.0.0.1:9", rate_rps=0, hook_token=TOKEN))
    )
    assert httpx.get(f"{loadgen}/status").json()["jobs"] is None
    auth = {"Authorization": f"Bearer {TOKEN}"}
    refused = httpx.post(f"{loadgen}/_hooks/jobs-rate", json={"multiplier": 6}, headers=auth)
    assert refused.status_code == 409 and "no worker URL" in refused.json()["detail"]
