"""Business-request accounting as plain ASGI (cheap): rate limit, timing, access log, unhandled errors.

Only `/api/v1/orders*` passes through the accounting; monitoring, admin and other paths go straight on.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lab.target.runtime import Runtime
from lab.target.schemas import LogLevel

BUSINESS_PREFIX = "/api/v1/orders"


async def _send_json(send: Send, code: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestAccounting:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.rt = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(BUSINESS_PREFIX):
            await self.app(scope, receive, send)
            return
        rt = self.rt
        if not rt.limiter.allow():
            rt.telemetry.record_throttled()
            await _send_json(send, 429, {"detail": "rate limit exceeded"}, [(b"retry-after", b"1")])
            return
        rt.memory.retain()
        started = time.perf_counter()
        code = 500
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal code, response_started
            if message["type"] == "http.response.start":
                code, response_started = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            code = 500
            rt.log.error(
                "unhandled exception while processing request",
                exc,
                method=scope["method"],
                path=path,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            if not response_started:
                await _send_json(send, 500, {"detail": "internal server error"}, [])
        finally:
            duration = time.perf_counter() - started
            rt.telemetry.record_request(duration, failed=code >= 500)
            level: LogLevel = "ERROR" if code >= 500 else "INFO"
            rt.log.log(
                level,
                "request",
                method=scope["method"],
                path=path,
                status=code,
                duration_ms=round(duration * 1000, 2),
            )
