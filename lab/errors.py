"""The error answers the lab's services document, so each OpenAPI document lists every status a client
can get: `{"detail": "<reason>"}` unless a route answers with a richer model of its own."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from fastapi import HTTPException, Request, status
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ErrorDetail(BaseModel):
    detail: str


UNAUTHORIZED = "missing or invalid bearer token"


def documented(
    reasons: Mapping[int, str], model: type[BaseModel] = ErrorDetail
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with its reason and its body's shape."""
    return {code: {"model": model, "description": reason} for code, reason in sorted(reasons.items())}


def validated(model: type[M], data: Any, whole: str = "body") -> M:
    """`data` as `model`, or HTTPException 422 naming each bad field (`whole` for the top level)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg']}" for e in exc.errors())
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=reason) from None


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON body as an object ({} when empty), refused with a reason otherwise.

    Parsed here rather than by FastAPI so that every refusal of a route has the one ErrorDetail shape.
    """
    return parse_json_object(await request.body())


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """`raw` as a JSON object ({} when empty); HTTPException 422 with a reason otherwise (nesting past
    Python's recursion limit too: `json.loads` raises RecursionError there, which was a 500)."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except RecursionError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="body nested too deeply") from None
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="body must be a JSON object")
    return body


async def bounded_body(request: Request, max_bytes: int) -> bytes:
    """The request body, read no further than `max_bytes`: 413 with a reason beyond that.

    A declared Content-Length over the limit is refused before anything is read.
    """
    too_large = HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"body larger than {max_bytes} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


# `openapi_extra` for a route that reads `json_object`: the document still says a body may come.
OBJECT_BODY = {
    "requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
}
