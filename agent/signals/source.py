"""The one interface every signal source implements, and what a read returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from agent.catalog.catalog import Service
from agent.domain.signals import Reading


class SourceReading(BaseModel):
    """What one source read: signal values, failing health checks, error log lines, what it could not read.

    `evidence` echoes each query or URL with its outcome, for the incident's timeline."""

    readings: dict[str, Reading] = Field(default_factory=dict)
    failing_checks: list[str] = Field(default_factory=list)
    check_details: dict[str, str] = Field(default_factory=dict)
    log_messages: list[str] | None = Field(default=None, description="None: this source reads no logs")
    gaps: list[str] = Field(default_factory=list)
    evidence: dict[str, Any] = Field(default_factory=dict)


class SignalSource(Protocol):
    name: str

    async def read(
        self, service: Service, *, only: set[str] | None = None, since: datetime | None = None
    ) -> SourceReading:
        """Read `service`'s signals (only those named, when `only` is given); never raises."""
        ...
