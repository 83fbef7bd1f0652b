"""The target as the action server sees it: admin calls with the admin token, and its public health."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pydantic import BaseModel


class TargetCallFailed(Exception):
    """An admin call did not succeed; `reason` is safe to show, `status_code` is the target's (if any)."""

    def __init__(self, reason: str, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


class TargetHealth(BaseModel):
    is_healthy: bool
    status: str
    reachable: bool
    checks: dict[str, str] = {}
    error_rate: float | None = None
    p95_response_time_ms: float | None = None
    release: str | None = None
    detail: str = ""


class TargetClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, admin_token: str, timeout: float) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {admin_token}"}
        self._timeout = timeout

    async def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = await self._http.post(
                f"{self._base}/admin/{path}", json=body or {}, headers=self._headers, timeout=self._timeout
            )
        except httpx.ConnectError:
            raise TargetCallFailed(f"target not reachable at {self._base}") from None
        except httpx.TimeoutException:
            raise TargetCallFailed(
                f"target did not answer /admin/{path} within {self._timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise TargetCallFailed(f"target call /admin/{path} failed: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise TargetCallFailed(
                f"target answered {response.status_code} to /admin/{path}: {_reason(response)}",
                response.status_code,
            )
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {"answer": answer}

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


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail)[:200] if detail else response.reason_phrase
