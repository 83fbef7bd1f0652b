"""The worker's HTTP bodies: the public jobs API, the operator's admin API and the test levers.

Nothing here may name what a lever is for (the blind rule in DESIGN.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from lab.worker.config import MAX_CONSUMERS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobIn(BaseModel):
    """A job's envelope; every other field is the payload, kept as sent for the handler to read."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")
    key: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$", description="jobs of one key keep order"
    )


class Accepted(BaseModel):
    id: int
    partition: int


class ConsumersIn(Strict):
    consumers: int = Field(ge=1, le=MAX_CONSUMERS)


class ConsumersOut(BaseModel):
    consumers: int
    previous: int


class DeadLetterIn(Strict):
    min_attempts: int = Field(ge=1, le=1_000_000)


class DeadLetterOut(BaseModel):
    moved: int
    min_attempts: int


class HeadOut(BaseModel):
    partition: int
    job_id: int
    state: str
    attempts: int
    age_seconds: float
    last_error: str | None = None


class QueueState(BaseModel):
    consumers: int
    partitions: int
    ready: int
    in_flight: int
    dead_letter: int
    heads: list[HeadOut]


class MemoryIn(Strict):
    enabled: bool
    bytes_per_job: int | None = Field(default=None, ge=1, le=64 * 1024 * 1024)


class ExitIn(Strict):
    code: int = Field(default=1, ge=0, le=255)
