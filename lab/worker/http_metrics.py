"""`http_server_request_duration_seconds` for the business routes, as plain ASGI (cheap).

The route label is the matched route's template (Starlette leaves the route in the scope), never the
raw path; methods outside HTTP's own set are `_OTHER`, as OpenTelemetry asks, so labels stay bounded.
"""

from __future__ import annotations

import time

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


class RequestDuration:
    def __init__(self, app: ASGIApp, histogram: Histogram, routes: frozenset[str]) -> None:
        self.app = app
        self._histogram = histogram
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500

        async def tracking_send(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route in self._routes:
                method = scope["method"] if scope["method"] in KNOWN_METHODS else "_OTHER"
                self._histogram.labels(method, route, str(code)).observe(time.perf_counter() - started)
