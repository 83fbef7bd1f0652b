"""What the chaos server answers is what happened, over real HTTP: a hook that acts but answers late is
an attack that may be partly injected (202, active, stoppable), never "nothing was injected"; a hook
that refuses, or a service that is not there, is a 502 and no attack."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lab.chaos.app import create_app
from lab.chaos.config import Settings
from lab.runner.ports import free_port

HOOK_TOKEN = "hook-secret"


class SlowTarget:
    """Answers like the target's hooks, but disk-fill writes for `seconds` before it answers (the
    original disk-fill under load) and pool-leak refuses."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.written: list[float] = []
        self.app = FastAPI()

        @self.app.post("/_hooks/disk-fill")
        async def disk_fill(request: Request) -> dict[str, int]:
            self.written.append(time.monotonic())  # it acts at once...
            await asyncio.sleep(self.seconds)  # ...and answers late
            return {"written_bytes": 49 * 1024 * 1024}

        @self.app.post("/_hooks/pool-leak")
        async def pool_leak() -> JSONResponse:
            return JSONResponse({"detail": "not now"}, status_code=503)  # refused before acting

        @self.app.get("/api/v1/health")
        async def health() -> dict[str, str]:
            return {"status": "healthy", "release": "2026.11.3"}


@pytest.fixture
def lab(servers):  # type: ignore[no-untyped-def]
    slow = SlowTarget(seconds=2.0)
    target = servers.serve(slow.app)
    settings = Settings(
        hook_token=HOOK_TOKEN,
        target_url=target,
        worker_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        hook_timeout_seconds=0.3,
    )
    chaos = servers.serve(create_app(settings))
    with httpx.Client(base_url=chaos, timeout=10) as client:
        yield client, slow


def test_a_hook_that_acts_but_answers_late_is_an_active_attack_not_a_502(lab) -> None:  # type: ignore[no-untyped-def]
    client, slow = lab
    response = client.post("/api/v1/break/disk_fill", json={})
    assert response.status_code == 202, response.text
    attack = response.json()
    assert attack["confirmed"] is False and attack["status"] == "active"
    assert "did not answer within 0.3 s" in attack["unconfirmed_because"]
    assert "partly injected" in attack["unconfirmed_because"]
    assert slow.written, "the hook acted"
    assert [a["attack_id"] for a in client.get("/api/v1/attacks").json()["active"]] == [attack["attack_id"]]
    assert client.post("/api/v1/break/disk_fill", json={}).status_code == 409  # it is on, as far as we know
    stopped = client.post(f"/api/v1/break/disk_fill/{attack['attack_id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"


def test_a_refusing_hook_or_a_missing_service_is_502_and_no_attack(lab) -> None:  # type: ignore[no-untyped-def]
    client, slow = lab
    refused = client.post("/api/v1/break/db_pool", json={})
    assert refused.status_code == 502 and "answered 503" in refused.json()["detail"]
    missing = client.post("/api/v1/break/worker_stall", json={})
    assert missing.status_code == 502 and "not accepting connections" in missing.json()["detail"]
    assert client.get("/api/v1/attacks").json()["active"] == []
    assert slow.written == []
