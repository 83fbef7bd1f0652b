"""The error answers the API documents, so its OpenAPI document says every status a client can get.

Every error the agent raises itself is `{"detail": "<a reason a person can act on>"}`; FastAPI's own
request validation keeps its list form (422 on query and body parameters it parses).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from starlette.types import Send


class ErrorDetail(BaseModel):
    detail: str


REASONS = {
    400: "the body could not be read (not UTF-8)",
    401: "missing or invalid bearer token",
    403: "a cross-site request: its Origin header names another host",
    404: "no such incident",
    409: "the incident is not in a state for this request (not waiting for approval; not escalated, "
    "or resolved already)",
    413: "the request body is larger than MAX_REQUEST_BODY_BYTES",
    415: "the body is not JSON (send Content-Type: application/json)",
    422: "not an Alertmanager webhook (version 4) payload",
    503: "the agent is starting, its intake queue is full, or a part it needs is unavailable",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each code with its reason and the ErrorDetail shape (503 is always
    possible: every route needs the runtime, which exists only once the agent has started)."""
    return {code: {"model": ErrorDetail, "description": REASONS[code]} for code in sorted({*codes, 503})}


def writes(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a write: its own codes and the request guard's (`agent.api.guard`)."""
    return errors(401, 403, 415, *codes)


def reads(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a read under /agent/: its own codes and 401 (READ_TOKEN, when set)."""
    return errors(401, *codes)


async def send_detail(
    send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """An error answer from ASGI middleware, before any route runs: the same `{"detail": …}` shape."""
    body = json.dumps({"detail": detail}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` inlined, for `openapi_extra` (which has no components)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)  # type: ignore[no-any-return]
