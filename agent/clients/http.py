"""The one way the agent's clients read JSON over HTTP: bounded timeouts, retries for idempotent reads only,
and a result value instead of an exception, so a node can record what failed and carry on."""

from __future__ import annotations

import asyncio
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Fetched(BaseModel, Generic[T]):
    """A read that may have failed: `value` when it worked, `error` (short, safe to show) when not."""

    value: T | None = None
    error: str | None = None
    status_code: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None


class JsonResponse(BaseModel):
    status_code: int | None = None
    body: Any = None
    error: str | None = None
    reached_server: bool = True  # False only when the request provably never left (no connection)


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: Any = None,
    headers: dict[str, str] | None = None,
    retries: int = 2,
    backoff_seconds: float = 0.2,
) -> JsonResponse:
    """GET with retries on connection errors and 5xx (a GET is safe to repeat); 4xx is returned at once."""
    last = JsonResponse(error="not attempted")
    for attempt in range(retries + 1):
        last = await send_json(client, "GET", url, params=params, headers=headers)
        retryable = last.status_code is None or last.status_code >= 500
        if not retryable or attempt == retries:
            return last
        await asyncio.sleep(backoff_seconds * (2**attempt))
    return last


async def send_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    params: Any = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> JsonResponse:
    """One request, never retried: callers of non-idempotent endpoints decide themselves."""
    try:
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json is not None:
            kwargs["json"] = json
        if timeout is not None:
            kwargs["timeout"] = timeout
        response = await client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return JsonResponse(error=f"unreachable: {type(exc).__name__}", reached_server=False)
    except httpx.TimeoutException:
        return JsonResponse(error="timeout")  # sent, maybe done, no answer in time
    except httpx.HTTPError as exc:
        return JsonResponse(error=f"unreachable: {type(exc).__name__}")
    try:
        body = response.json()
    except ValueError:
        body = None
    error = None if response.is_success else f"HTTP {response.status_code}"
    return JsonResponse(status_code=response.status_code, body=body, error=error)


def lenient(model: type[M], data: Any) -> M:
    """Validate, dropping any top-level field that does not fit instead of failing the whole read."""
    payload = dict(data) if isinstance(data, dict) else {}
    for _ in range(len(payload) + 1):
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            bad = {err["loc"][0] for err in exc.errors() if err["loc"]}
            if not bad & payload.keys():
                break
            for key in bad:
                payload.pop(key, None)  # type: ignore[call-overload]
    return model.model_construct()
