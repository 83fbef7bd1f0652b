"""A lab service's operator API as the action server calls it: `/admin/...` with the admin token.

Every failure becomes `AdminCallFailed` with a reason safe to show, naming the service.
"""

from __future__ import annotations

from typing import Any

import httpx


class AdminCallFailed(Exception):
    """An admin call did not succeed; `reason` is safe to show, `status_code` is the service's (if any)."""

    def __init__(self, reason: str, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


class AdminClient:
    def __init__(
        self, http: httpx.AsyncClient, base_url: str, admin_token: str, timeout: float, service: str
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {admin_token}"}
        self._timeout = timeout
        self._service = service

    async def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._call("POST", path, body or {})

    async def admin_get(self, path: str) -> dict[str, Any]:
        return await self._call("GET", path, None)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        name = self._service
        try:
            response = await self._http.request(
                method, f"{self._base}/admin/{path}", json=body, headers=self._headers, timeout=self._timeout
            )
        except httpx.ConnectError:
            raise AdminCallFailed(f"{name} not reachable at {self._base}") from None
        except httpx.TimeoutException:
            raise AdminCallFailed(f"{name} did not answer /admin/{path} within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise AdminCallFailed(f"{name} call /admin/{path} failed: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise AdminCallFailed(
                f"{name} answered {response.status_code} to /admin/{path}: {_reason(response)}",
                response.status_code,
            )
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {"answer": answer}


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail)[:200] if detail else response.reason_phrase
