"""A stand-in for the target's admin API and health, served by real uvicorn on a free port in a thread, and
the action server's settings pointed at it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request

from lab.action.config import Settings
from lab.runner.ports import free_port

ADMIN_TOKEN = "admin-secret"
ACTION_TOKEN = "action-secret"


class AdminStandIn:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.health_status = "healthy"
        self.rollback_possible = True
        self.url = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/admin/{path:path}")
        async def admin(path: str, request: Request, authorization: str = Header("")) -> dict[str, Any]:
            if authorization != f"Bearer {ADMIN_TOKEN}":
                raise HTTPException(401, "invalid bearer token")
            self.calls.append((path, await request.json() if await request.body() else {}))
            if path == "release/rollback":
                if not self.rollback_possible:
                    raise HTTPException(409, "no previous release")
                return {"from": "2026.11.4", "to": "2026.11.3"}
            if path == "pool/reclaim":
                return {"reclaimed": 7, "reaper_seconds": 1.0}
            if path == "disk/clean":
                return {"freed_bytes": 1000, "removed_files": 3}
            return {"ok": True}

        @app.get("/api/v1/health")
        async def health() -> dict[str, Any]:
            check = "ok" if self.health_status == "healthy" else "failing"
            return {
                "status": self.health_status,
                "release": "2026.11.3",
                "uptime_seconds": 5,
                "checks": {"database": {"status": check}, "pool": {"status": "ok"}},
            }

        @app.get("/api/v1/metrics")
        async def metrics() -> dict[str, Any]:
            return {"error_rate": 1.5, "p95_response_time_ms": 42.0}

        return app

    @contextmanager
    def serve(self) -> Iterator[AdminStandIn]:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/api/v1/health", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(5)


def action_settings(tmp_path: Path, target_url: str) -> Settings:
    """The action server's settings, pointed at a stand-in like this one at `target_url`."""
    return Settings(
        token=ACTION_TOKEN,
        target_url=target_url,
        target_admin_token=ADMIN_TOKEN,
        data_dir=tmp_path / "action",
        target_db_path=tmp_path / "orders.db",
        request_timeout_seconds=2,
    )
