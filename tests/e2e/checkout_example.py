"""The made-up `checkout` service of docs/adopting.md, for real: a FastAPI app instrumented with
prometheus_client the way the doc says, the feature flags it reads, steady traffic, and the small action
server that answers the agent's action protocol in front of those flags.

Nothing here is the lab's and nothing imports the agent: it is what an adopter already runs (the service,
its flag system) plus the one thing they write for the agent (the action server).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field

FLAG = "new-pricing"
FAILING_OF_FIVE = 2  # with the flag on, 2 requests in every 5 fail: 40 %
REQUESTS_PER_SECOND = 20.0
WINDOW_MIN_SECONDS, WINDOW_MAX_SECONDS = 60, 3600  # the action server's own bounds (the catalog's too)


class FlagStore:
    """Feature flags and when each was turned on: the flag system (Unleash, LaunchDarkly, a table) the
    service reads on every request and the action server writes."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._on: dict[str, float] = {}
        self._lock = threading.Lock()

    def turn_on(self, name: str) -> None:
        with self._lock:
            self._on[name] = self._clock()

    def turn_off(self, name: str) -> None:
        with self._lock:
            self._on.pop(name, None)

    def is_on(self, name: str) -> bool:
        with self._lock:
            return name in self._on

    def turned_on_within(self, seconds: float) -> list[str]:
        cutoff = self._clock() - seconds
        with self._lock:
            return sorted(name for name, since in self._on.items() if since >= cutoff)


class RecentRequests:
    """The service's own view of its last requests, which its /healthz reports."""

    def __init__(self, size: int = 100) -> None:
        self._codes: list[int] = []
        self._size = size
        self._lock = threading.Lock()

    def add(self, code: int) -> None:
        with self._lock:
            self._codes = [*self._codes[-(self._size - 1) :], code]

    def error_ratio(self) -> float:
        with self._lock:
            return sum(code >= 500 for code in self._codes) / len(self._codes) if self._codes else 0.0


def checkout_app(flags: FlagStore, recent: RecentRequests) -> FastAPI:
    """`POST /api/orders` counted in `http_requests_total{code}` and timed in `http_request_duration_seconds`,
    with client_python's process metrics, at `GET /metrics`. The flag sends 40 % of orders down a path
    that fails."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    requests = Counter("http_requests_total", "HTTP requests by status code", ["code"], registry=registry)
    duration = Histogram("http_request_duration_seconds", "HTTP request duration", registry=registry)
    for code in ("200", "500"):
        requests.labels(code=code)
    sequence = itertools.count()
    app = FastAPI(title="checkout")

    @app.post("/api/orders")
    def place_order() -> JSONResponse:
        started = time.perf_counter()
        failing = flags.is_on(FLAG) and next(sequence) % 5 < FAILING_OF_FIVE
        code = 500 if failing else 200
        body = {"error": "price lookup failed"} if failing else {"order": "accepted"}
        requests.labels(code=str(code)).inc()
        duration.observe(time.perf_counter() - started)
        recent.add(code)
        return JSONResponse(body, status_code=code)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


class Traffic:
    """Steady orders from a background thread, until stopped."""

    def __init__(self, url: str, per_second: float = REQUESTS_PER_SECOND) -> None:
        self._url = url
        self._interval = 1 / per_second
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="checkout-traffic", daemon=True)
        self.sent = 0

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=2) as client:
            while not self._stop.is_set():
                try:
                    client.post(f"{self._url}/api/orders", json={"items": 1})
                    self.sent += 1
                except httpx.HTTPError:
                    pass  # the service is starting or stopping: the next order tries again
                self._stop.wait(self._interval)


# ---------------------------------------------------------------- the action server (docs/adopting.md)
class DisableFlag(BaseModel):
    """`disable-flag`'s parameters, checked here too: the agent's catalog bounds are not the only lock."""

    model_config = ConfigDict(extra="forbid")
    changed_within_seconds: int = Field(ge=WINDOW_MIN_SECONDS, le=WINDOW_MAX_SECONDS)


class AuditRecord(BaseModel):
    at: datetime
    action: str
    params: dict[str, Any]
    status: str
    detail: str


CATALOG = {
    "actions": [
        {
            "name": "disable-flag",
            "description": "turn off the feature flags turned on within the last changed_within_seconds",
            "risk": "low",
            "params": {"changed_within_seconds": {"type": "number", "min": 60, "max": 3600}},
        }
    ]
}


def action_server(flags: FlagStore, recent: RecentRequests, token: str) -> FastAPI:
    """The agent's action protocol for checkout: catalog, one action, its audit, and a health verdict."""
    audit: list[AuditRecord] = []

    def authorised(request: Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {token}":
            raise HTTPException(401, detail="missing or invalid bearer token")

    app = FastAPI(title="checkout-actions", dependencies=[Depends(authorised)])

    @app.get("/action/catalog")
    def catalog() -> dict[str, Any]:
        return CATALOG

    @app.post("/action/disable-flag")
    def disable_flag(params: DisableFlag) -> JSONResponse:
        names = flags.turned_on_within(params.changed_within_seconds)
        for name in names:
            flags.turn_off(name)
        ok = bool(names)
        detail = (
            f"turned off {', '.join(names)}"
            if ok
            else f"no flag was turned on in the last {params.changed_within_seconds} s"
        )
        status = "succeeded" if ok else "failed"
        audit.append(
            AuditRecord(
                at=datetime.now(UTC),
                action="disable-flag",
                params=params.model_dump(),
                status=status,
                detail=detail,
            )
        )
        body = {"action": "disable-flag", "status": status, "detail": detail, "changes": {"disabled": names}}
        return JSONResponse(body, status_code=200 if ok else 409)

    @app.get("/action/audit")
    def audit_records() -> dict[str, Any]:
        return {"records": [r.model_dump(mode="json") for r in reversed(audit)]}

    @app.get("/action/checkout-health")
    def health() -> dict[str, Any]:
        ratio = recent.error_ratio()
        healthy = ratio < 0.05
        status = "healthy" if healthy else f"{ratio:.0%} of the last requests failed"
        return {"is_healthy": healthy, "status": status}

    return app
