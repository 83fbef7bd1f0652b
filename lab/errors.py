"""The error answers the lab's services document, so each OpenAPI document lists every status a client
can get: `{"detail": "<reason>"}` unless a route answers with a richer model of its own."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException, Request, status
from pydantic import BaseModel


class ErrorDetail(BaseModel):
    detail: str


UNAUTHORIZED = "missing or invalid bearer token"


def documented(
    reasons: Mapping[int, str], model: type[BaseModel] = ErrorDetail
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with its reason and its body's shape."""
    return {code: {"model": model, "description": reason} for code, reason in sorted(reasons.items())}


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON body as an object ({} when empty), refused with a reason otherwise.

    Parsed here rather than by FastAPI so that every refusal of a route has the one ErrorDetail shape.
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="body must be a JSON object")
    return body


# `openapi_extra` for a route that reads `json_object`: the document still says a body may come.
OBJECT_BODY = {
    "requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
}
