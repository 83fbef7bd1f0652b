"""Grafana's annotation request bodies and the outbox's records, as Grafana documents them.

`POST /api/annotations` {dashboardUID, time, timeEnd?, tags, text} answers {"message", "id"};
`PATCH /api/annotations/:id` takes any of {text, tags, time, timeEnd}. Times are epoch milliseconds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TAGS = 6
MAX_TAG_LENGTH = 50


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def wire(self) -> dict[str, Any]:
        """The JSON Grafana gets: camelCase names, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True)


class CreateAnnotation(_Body):
    dashboard_uid: str | None = Field(default=None, serialization_alias="dashboardUID")
    time: int
    time_end: int | None = Field(default=None, serialization_alias="timeEnd")
    tags: list[str]
    text: str


class PatchAnnotation(_Body):
    time_end: int | None = Field(default=None, serialization_alias="timeEnd")
    tags: list[str] | None = None
    text: str | None = None


class CreatedAnnotation(BaseModel):
    """Grafana's answer to a create; unknown fields ignored."""

    id: int
    message: str = ""


class PendingEntry(BaseModel):
    """One request waiting for Grafana, in the order it was made."""

    state: Literal["pending"] = "pending"
    key: str
    ref: str
    method: Literal["create", "patch"]
    body: dict[str, Any]
    enqueued_at: float
    attempts: int = 0
    keep_id: bool = False  # remember Grafana's id: a close PATCHes it, a repeated call is a no-op


class DeliveredRef(BaseModel):
    """Grafana's id for an annotation a later PATCH (closing the incident) may need."""

    state: Literal["delivered"] = "delivered"
    ref: str
    grafana_id: int


OutboxRecord = Annotated[PendingEntry | DeliveredRef, Field(discriminator="state")]


def tag_set(*groups: list[str] | tuple[str, ...]) -> list[str]:
    """Small, ordered, de-duplicated tags (Grafana caps the total tag length per annotation)."""
    seen: list[str] = []
    for group in groups:
        for tag in group:
            tag = tag.strip()[:MAX_TAG_LENGTH]
            if tag and tag not in seen:
                seen.append(tag)
    return seen[:MAX_TAGS]
