"""Prometheus HTTP API: instant and range queries with typed results that echo their query."""

from __future__ import annotations

import math
from typing import Any

import httpx
from pydantic import BaseModel, Field

from agent.clients.http import get_json
from agent.redaction import redact


class Sample(BaseModel):
    metric: dict[str, str] = Field(default_factory=dict)
    value: float


class Series(BaseModel):
    metric: dict[str, str] = Field(default_factory=dict)
    values: list[tuple[float, float]] = Field(default_factory=list)


class QueryResult(BaseModel):
    query: str
    samples: list[Sample] = Field(default_factory=list)
    error: str | None = None
    unavailable: bool = False  # Prometheus could not answer (unreachable, 5xx), not a bad query

    @property
    def ok(self) -> bool:
        return self.error is None

    def first(self) -> float | None:
        """The first finite sample value, the usual answer to a scalar-ish query."""
        return next((s.value for s in self.samples if math.isfinite(s.value)), None)


class RangeResult(BaseModel):
    query: str
    series: list[Series] = Field(default_factory=list)
    error: str | None = None
    unavailable: bool = False


class _Failed(BaseModel):
    error: str
    unavailable: bool


class PrometheusClient:
    def __init__(self, client: httpx.AsyncClient, base_url: str, timeout_seconds: float = 5.0) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._timeout = timeout_seconds

    async def query(self, promql: str) -> QueryResult:
        body = await self._get("/api/v1/query", {"query": promql, "timeout": _duration(self._timeout)})
        if isinstance(body, _Failed):
            return QueryResult(query=promql, error=body.error, unavailable=body.unavailable)
        samples = []
        result_type = body.get("resultType")
        for item in body.get("result", []) if result_type == "vector" else []:
            value = _number(item.get("value"))
            if value is not None:
                samples.append(Sample(metric=item.get("metric", {}), value=value))
        if result_type == "scalar":
            value = _number(body.get("result"))
            if value is not None:
                samples.append(Sample(value=value))
        return QueryResult(query=promql, samples=samples)

    async def query_range(self, promql: str, start: float, end: float, step: float) -> RangeResult:
        params = {
            "query": promql,
            "start": start,
            "end": end,
            "step": step,
            "timeout": _duration(self._timeout),
        }
        body = await self._get("/api/v1/query_range", params)
        if isinstance(body, _Failed):
            return RangeResult(query=promql, error=body.error, unavailable=body.unavailable)
        series = []
        for item in body.get("result", []):
            points = [(float(p[0]), v) for p in item.get("values", []) if (v := _number(p)) is not None]
            series.append(Series(metric=item.get("metric", {}), values=points))
        return RangeResult(query=promql, series=series)

    async def ready(self) -> bool:
        try:
            response = await self._client.get(f"{self._base}/-/ready", timeout=self._timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any] | _Failed:
        """The `data` object of a successful answer, or why not: Prometheus answers a bad query with 400
        or 422 and a reason, and is unavailable when it does not answer or answers 5xx."""
        response = await get_json(self._client, f"{self._base}{path}", params=params, retries=1)
        body = response.body if isinstance(response.body, dict) else {}
        if response.error or body.get("status") != "success":
            unavailable = response.status_code is None or response.status_code >= 500
            return _Failed(
                error=redact(str(body.get("error") or response.error or "bad answer"))[:200],
                unavailable=unavailable,
            )
        data = body.get("data")
        return data if isinstance(data, dict) else _Failed(error="no data", unavailable=False)


def _number(pair: Any) -> float | None:
    """Prometheus sends `[ts, "value"]`; values may be "NaN" or "+Inf"."""
    try:
        return float(pair[1])
    except (TypeError, ValueError, IndexError):
        return None


def _duration(seconds: float) -> str:
    """Prometheus durations take integer units ("5s", "1500ms"); "5.0s" is answered with 400."""
    return f"{max(1, round(seconds * 1000))}ms"
