"""An HTTP action server (the agent's action protocol): `GET /action/catalog`, `POST /action/{name}` with
the parameters as a JSON body and a bearer token, `GET /action/audit`, and a health verdict at
`GET /action/<health>` when the catalog entry names one.

Reads (catalog, verify, audit) are retried on 5xx and connection errors; running an action never is:
an action that timed out may have run, so the caller records intent first and checks the audit.

Of an action's answer the agent keeps the fields it knows (`RESULT_FIELDS`), strings redacted and cut
to `MAX_RESULT_CHARS`: a backend's internals (`changes`, what it saw on the host) never reach an incident.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from agent.actions.backend import ActionOutcome, AuditEntry, CatalogAction, HealthVerdict
from agent.clients.http import Fetched, get_json, lenient, send_json
from agent.redaction import redact

RESULT_FIELDS = ("status", "detail", "error", "message", "success", "ok", "duration_seconds")
MAX_RESULT_CHARS = 500


class HttpActionBackend:
    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        token: SecretStr,
        action_timeout_seconds: float = 120.0,
        health: str | None = None,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._token = token
        self._action_timeout = action_timeout_seconds
        self._health = health

    def _headers(self) -> dict[str, str]:
        token = self._token.get_secret_value()
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def catalog(self) -> Fetched[list[CatalogAction]]:
        response = await get_json(self._client, f"{self._base}/action/catalog", headers=self._headers())
        if response.error:
            return Fetched(error=response.error, status_code=response.status_code)
        return Fetched(value=_parse_catalog(response.body), status_code=response.status_code)

    async def run(self, name: str, params: dict[str, Any]) -> ActionOutcome:
        response = await send_json(
            self._client,
            "POST",
            f"{self._base}/action/{name}",
            json=params,
            headers=self._headers(),
            timeout=self._action_timeout,
        )
        body = known_result(response.body)
        ok = response.error is None and body.get("success", body.get("ok", True)) is not False
        reason = body.get("error") or body.get("message") or body.get("detail") or "failed"
        return ActionOutcome(
            action=name,
            ok=ok,
            status_code=response.status_code,
            body=body,
            error=response.error or (None if ok else str(reason)[:300]),
            may_have_run=response.status_code is None and response.reached_server,
        )

    async def health_verdict(self) -> Fetched[HealthVerdict]:
        if self._health is None:
            return Fetched(error="the catalog names no health verdict for this service")
        response = await get_json(
            self._client, f"{self._base}/action/{self._health}", headers=self._headers()
        )
        if not isinstance(response.body, dict) or "is_healthy" not in response.body:
            return Fetched(error=response.error or "no verdict", status_code=response.status_code)
        verdict = lenient(HealthVerdict, response.body)
        verdict.status = redact(verdict.status)[:100]
        return Fetched(value=verdict, status_code=response.status_code)

    async def audit(self) -> Fetched[list[AuditEntry]]:
        """`GET /action/audit`: `{"records": [...]}`, each with `action`, `status` and `at` (its end)."""
        response = await get_json(self._client, f"{self._base}/action/audit", headers=self._headers())
        if response.error:
            return Fetched(error=response.error, status_code=response.status_code)
        items = response.body.get("records") if isinstance(response.body, dict) else None
        entries = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                status = item.get("status")
                entry = lenient(
                    AuditEntry,
                    {
                        "action": item.get("action") or "",
                        "ts": item.get("at"),
                        "ok": None if status is None else status == "succeeded",
                    },
                )
                entries.append(entry)
        return Fetched(value=entries, status_code=response.status_code)


def known_result(body: Any) -> dict[str, Any]:
    """The fields of an action's answer the agent knows: strings redacted and cut, numbers and booleans
    as they are, anything else left out; a bare string answer is its detail."""
    if isinstance(body, str):
        body = {"detail": body}
    if not isinstance(body, dict):
        return {}
    kept: dict[str, Any] = {}
    for field in RESULT_FIELDS:
        value = body.get(field)
        if isinstance(value, str):
            kept[field] = redact(value)[:MAX_RESULT_CHARS]
        elif isinstance(value, bool | int | float):
            kept[field] = value
    return kept


def _parse_catalog(body: Any) -> list[CatalogAction]:
    """Accept `{"actions": [...]}`, a bare list, or a name → description mapping."""
    if isinstance(body, dict) and "actions" in body:
        body = body["actions"]
    if isinstance(body, dict):
        body = [
            {"name": name, **(info if isinstance(info, dict) else {"description": str(info)})}
            for name, info in body.items()
        ]
    actions = []
    for item in body if isinstance(body, list) else []:
        if isinstance(item, str):
            actions.append(CatalogAction(name=item))
        elif isinstance(item, dict) and (item.get("name") or item.get("action")):
            data = {**item, "name": item.get("name") or item.get("action")}
            if not isinstance(data.get("params"), dict):
                data.pop("params", None)
            actions.append(lenient(CatalogAction, data))
    return [a for a in actions if a.name]
