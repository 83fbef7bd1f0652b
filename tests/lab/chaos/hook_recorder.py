"""The chaos server's hooks answered in process: an httpx transport that records each call."""

from __future__ import annotations

import json
from typing import Any

import httpx

HOOK_TOKEN = "hook-secret"


class HookRecorder:
    """Answers every hook like the real services would and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: int | None = None
        self.checked_out = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/health":
            return httpx.Response(200, json={"status": "healthy", "release": "2026.11.3"})
        if request.url.path == "/api/v1/pool/status":
            return httpx.Response(200, json={"checked_out": self.checked_out, "size": 5, "max_overflow": 5})
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if request.url.path == "/jobs":  # the worker's public API: no token goes there
            assert "authorization" not in request.headers
            self.calls.append((f"{request.url.port}{request.url.path}", json.loads(request.content)))
            return httpx.Response(202, json={"id": 41, "partition": 3})
        assert request.headers["authorization"] == f"Bearer {HOOK_TOKEN}"
        self.calls.append((f"{request.url.port}{request.url.path}", json.loads(request.content or b"{}")))
        if self.fail_with:
            return httpx.Response(self.fail_with, json={"detail": "nope"})
        return httpx.Response(200, json={"ok": True, "written_bytes": 1024})
