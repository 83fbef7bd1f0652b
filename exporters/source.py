"""Reading the target: the three JSON endpoints fetched at once, within one time budget.

Why threads and a sync `httpx.Client`: prometheus_client calls `collect()` synchronously from
whatever thread renders the exposition. A small thread pool sharing one `httpx.Client` (thread-safe,
keeps connections alive between scrapes) runs the three requests concurrently without starting an
event loop inside `collect()`, which would break the day someone renders the registry from async code.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from typing import Literal

import httpx
from pydantic import BaseModel, ValidationError

from exporters.models import HealthBody, MetricsBody, PoolBody

Endpoint = Literal["health", "metrics", "pool"]
ENDPOINTS: tuple[Endpoint, ...] = ("health", "metrics", "pool")
PATHS: dict[Endpoint, str] = {
    "health": "/api/v1/health",
    "metrics": "/api/v1/metrics",
    "pool": "/api/v1/pool/status",
}
_MODELS: dict[Endpoint, type[BaseModel]] = {"health": HealthBody, "metrics": MetricsBody, "pool": PoolBody}
# A target may answer /health with 503 when unhealthy; the body is still the health document.
_ACCEPTED_STATUS: dict[Endpoint, set[int]] = {"health": {200, 503}, "metrics": {200}, "pool": {200}}


class Snapshot(BaseModel):
    """What one scrape of the target produced: the bodies that parsed, and why the others did not."""

    health: HealthBody | None = None
    metrics: MetricsBody | None = None
    pool: PoolBody | None = None
    errors: dict[str, str] = {}
    duration_seconds: float = 0.0

    @property
    def answered(self) -> bool:
        """The target process answered at least one endpoint with a valid body."""
        return any(body is not None for body in (self.health, self.metrics, self.pool))


class TargetSource:
    """Fetches the target's health, metrics and pool status; never raises for target-side failures."""

    def __init__(self, base_url: str, timeout_seconds: float, client: httpx.Client | None = None) -> None:
        self._timeout = timeout_seconds
        self._client = client or httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout_seconds))
        # Requests abandoned at the deadline may linger up to httpx's own timeout; spare workers
        # keep the next scrape from queueing behind them.
        self._pool = cf.ThreadPoolExecutor(max_workers=3 * len(ENDPOINTS), thread_name_prefix="exporter")

    def fetch(self) -> Snapshot:
        started = time.perf_counter()
        futures = {endpoint: self._pool.submit(self._fetch_one, endpoint) for endpoint in ENDPOINTS}
        cf.wait(futures.values(), timeout=self._timeout)
        bodies: dict[str, BaseModel] = {}
        errors: dict[str, str] = {}
        for endpoint, future in futures.items():
            if not future.done():
                future.cancel()
                errors[endpoint] = "timeout"
                continue
            body, error = future.result()
            if body is not None:
                bodies[endpoint] = body
            else:
                errors[endpoint] = error or "unknown"
        return Snapshot.model_validate(
            {**bodies, "errors": errors, "duration_seconds": time.perf_counter() - started}
        )

    def _fetch_one(self, endpoint: Endpoint) -> tuple[BaseModel | None, str | None]:
        try:
            response = self._client.get(PATHS[endpoint])
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError:
            return None, "unreachable"
        if response.status_code not in _ACCEPTED_STATUS[endpoint]:
            return None, f"http_{response.status_code}"
        try:
            return _MODELS[endpoint].model_validate_json(response.content), None
        except ValidationError:
            return None, "invalid_body"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
