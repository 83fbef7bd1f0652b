"""Who may call what, decided before any route reads a body (pure ASGI, like the body limit).

    POST /webhooks/alertmanager              WEBHOOK_TOKEN
    any other request but GET and HEAD       API_TOKEN
    GET and HEAD under /agent/               READ_TOKEN or API_TOKEN, once READ_TOKEN is set
    /health, /metrics, the OpenAPI document  nothing

A write also needs no foreign `Origin` and a JSON body (or none). A page on another site can make a
browser POST here without a CORS preflight only as a form or `text/plain`, and a browser names the
page's origin on every cross-site POST: with the token, which such a page cannot attach, that is the
defence against cross-site requests, and on a development agent without tokens it is all of it. The
order is Origin (403), token (401), content type (415), so a caller without the token learns nothing
about the body it sent (malformed JSON is a 401, not a 422). An empty token leaves its routes open:
`Settings.refuse_open_writes` keeps the agent from starting that way unless ALLOW_UNAUTHENTICATED.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.api.auth import bearer_matches
from agent.api.responses import send_detail
from agent.config import Settings

WEBHOOK_PATH = "/webhooks/alertmanager"
READ_METHODS = frozenset({"GET", "HEAD"})
GUARDED_READS = "/agent/"
UNAUTHORIZED = "missing or invalid bearer token"


class Access(BaseModel):
    """Which routes answer without a token (in /health and /agent/status): a configuration, not a
    degradation, so /health's `status` ignores it."""

    open_routes: list[str] = Field(description="routes that answer anyone who reaches the port")
    warning: str = Field(default="", description="set when writes are open (ALLOW_UNAUTHENTICATED)")


def access(settings: Settings) -> Access:
    routes = settings.open_routes()
    writes = [route for route in routes if not route.startswith("GET")]
    warning = f"ALLOW_UNAUTHENTICATED: {', '.join(writes)} answer without a token; development only"
    return Access(open_routes=routes, warning=warning if writes else "")


class RequestGuard:
    def __init__(
        self, app: ASGIApp, settings: Settings, on_refused: Callable[[str, int], None] | None = None
    ) -> None:
        self.app, self.settings = app, settings
        self.on_refused = on_refused  # called with the request path and the status it was refused with

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = refuse(scope, self.settings) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail = refusal
        if self.on_refused is not None:
            self.on_refused(scope.get("path", ""), status)
        challenge = [(b"www-authenticate", b"Bearer")] if status == 401 else []
        await send_detail(send, status, detail, challenge)


def refuse(scope: Scope, settings: Settings) -> tuple[int, str] | None:
    """The status and reason a request is refused with, or None when it may reach its route."""
    headers = Headers(scope=scope)
    path, authorization = scope.get("path", ""), headers.get("authorization")
    if scope["method"] in READ_METHODS:
        guarded = path.startswith(GUARDED_READS) and settings.READ_TOKEN.get_secret_value()
        if guarded and not bearer_matches(authorization, settings.READ_TOKEN, settings.API_TOKEN):
            return 401, UNAUTHORIZED
        return None
    origin = headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
        return 403, "cross-site request refused: its Origin is not this agent's host"
    token = settings.WEBHOOK_TOKEN if path == WEBHOOK_PATH else settings.API_TOKEN
    if token.get_secret_value() and not bearer_matches(authorization, token):
        return 401, UNAUTHORIZED
    if not json_or_empty(headers):
        return 415, "the body must be JSON: send it with Content-Type: application/json"
    return None


def json_or_empty(headers: Headers) -> bool:
    """A JSON content type (`application/json`, `application/*+json`), or no body and no content type."""
    content_type = headers.get("content-type")
    if content_type is None:
        return headers.get("content-length", "0").strip() == "0" and "transfer-encoding" not in headers
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
