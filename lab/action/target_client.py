"""The target as the action server sees it: admin calls with the admin token, and its public health."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pydantic import BaseModel

from lab.action.admin_client import AdminClient


class TargetHealth(BaseModel):
    is_healthy: bool
    status: str
    reachable: bool
    checks: dict[str, str] = {}
    error_rate: float | None = None
    p95_response_time_ms: float | None = None
    release: str | None = None
    detail: str = ""


class TargetClient(AdminClient):
    def __init__(self, http: httpx.AsyncClient, base_url: str, admin_token: str, timeout: float) -> None:
        super().__init__(http, base_url, admin_token, timeout, service="target")

    async def _get_json(self, path: str) -> dict[str, Any]:
        response = await self._http.get(f"{self._base}{path}", timeout=min(self._timeout, 5.0))
        body = response.json()
        return body if isinstance(body, dict) else {}

    async def health(self) -> TargetHealth:
        """Healthy means reachable and the target's own health status is `healthy`."""
        try:
            health, metrics = await asyncio.gather(
                self._get_json("/api/v1/health"), self._get_json("/api/v1/metrics")
            )
        except (httpx.HTTPError, ValueError) as exc:
            return TargetHealth(
                is_healthy=False, status="unreachable", reachable=False, detail=f"{type(exc).__name__}"
            )
        status = str(health.get("status", "unknown"))
        raw_checks = health.get("checks") or {}
        checks = {
            name: str(check.get("status", "unknown")) if isinstance(check, dict) else str(check)
            for name, check in raw_checks.items()
        }
        failing = sorted(name for name, state in checks.items() if state != "ok")
        return TargetHealth(
            is_healthy=status == "healthy",
            status=status,
            reachable=True,
            checks=checks,
            error_rate=_number(metrics.get("error_rate")),
            p95_response_time_ms=_number(metrics.get("p95_response_time_ms")),
            release=health.get("release"),
            detail=f"checks not ok: {', '.join(failing)}" if failing else "",
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
