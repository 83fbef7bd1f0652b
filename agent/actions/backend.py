"""The interface every action backend implements, and the shapes it answers with."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agent.clients.http import Fetched


class CatalogAction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    description: str = ""
    risk: str = "medium"
    params: dict[str, Any] = Field(default_factory=dict)


class ActionOutcome(BaseModel):
    """`ok` means the backend says it ran the action successfully; `body` is what the incident keeps of
    its answer: the fields the agent knows, secrets redacted, each cut short (never the whole answer)."""

    action: str
    ok: bool
    status_code: int | None = None
    body: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    may_have_run: bool = False  # no answer, but the request may have reached the backend (a timeout)


class HealthVerdict(BaseModel):
    model_config = ConfigDict(extra="ignore")

    is_healthy: bool = False
    status: str = "unknown"
    error_rate: float | None = None
    checks: dict[str, Any] = Field(default_factory=dict)


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: str = ""
    ts: datetime | None = None
    ok: bool | None = None


class ActionBackend(Protocol):
    """Runs one named action with parameters; never raises (failures are values)."""

    async def catalog(self) -> Fetched[list[CatalogAction]]: ...

    async def run(self, name: str, params: dict[str, Any]) -> ActionOutcome: ...

    async def audit(self) -> Fetched[list[AuditEntry]]: ...

    async def health_verdict(self) -> Fetched[HealthVerdict]:
        """The backend's own view of the service's health (used when Prometheus cannot answer)."""
        ...
