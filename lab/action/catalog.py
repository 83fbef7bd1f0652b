"""The allowlisted actions: what each does, its parameters (a pydantic model), its risk, what it is for.

`ACTIONS` act on the orders API (the target), `WORKER_ACTIONS` on the queue worker; an action server
instance serves one of the two (ACTION_SERVICE).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Risk = Literal["low", "medium", "high"]


class ActionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoParams(ActionParams):
    pass


class PoolRemediationParams(ActionParams):
    escalate_to_db_restart: bool = Field(default=False, description="also dispose the engine's connections")
    max_held_seconds: float = Field(default=5.0, gt=0, le=3600, description="reclaim connections held longer")


class KillBlockingParams(ActionParams):
    min_age_seconds: float = Field(default=0.0, ge=0, description="only processes older than this")


MIN_RATE_LIMIT_RPS = 5.0  # the target serves ~10 req/s on a quiet day: a lower limit turns users away


class RateLimitParams(ActionParams):
    requests_per_second: float = Field(
        default=20.0,
        ge=MIN_RATE_LIMIT_RPS,
        le=100_000,
        description=f"requests served per second; at least {MIN_RATE_LIMIT_RPS:g}, what the target serves on "
        "a quiet day (a limit computed from a tiny baseline would shed normal traffic)",
    )


class DeadLetterParams(ActionParams):
    min_attempts: int = Field(
        default=5, ge=2, le=1000, description="set aside jobs that failed at least this many times"
    )


class ScaleConsumersParams(ActionParams):
    """Required: a default count would run a fix too small for a flood and call it done."""

    consumers: int = Field(
        ge=1,
        le=16,
        description="consumer threads; each serves one partition at a time, so more than the queue's "
        "partitions (8 in the lab) adds nothing",
    )


class ActionSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    risk: Risk
    used_for: str
    params_model: type[ActionParams] = Field(exclude=True)

    def public(self) -> dict[str, Any]:
        parameters = [
            {
                "name": name,
                "type": field.annotation.__name__
                if isinstance(field.annotation, type)
                else str(field.annotation),
                "default": None if field.is_required() else field.default,
                "required": field.is_required(),
                "description": field.description or "",
            }
            for name, field in self.params_model.model_fields.items()
        ]
        return {
            **self.model_dump(),
            "parameters": parameters,
            "parameters_schema": self.params_model.model_json_schema(),
        }


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            name="restart-target",
            description="SIGTERM (then SIGKILL) the target process or its container, start it again, "
            "wait for its health.",
            risk="medium",
            used_for="a dead or wedged process; state held in process memory (leaked memory, stuck threads)",
            params_model=NoParams,
        ),
        ActionSpec(
            name="remediate-db-pool-exhaustion",
            description="Reclaim database connections held too long and keep a reaper running; "
            "with escalate_to_db_restart also dispose all pooled connections.",
            risk="low",
            used_for="a connection pool at capacity because connections are not returned",
            params_model=PoolRemediationParams,
        ),
        ActionSpec(
            name="kill-blocking-queries",
            description="Terminate other processes holding locks on the target's database files "
            "(never the target itself).",
            risk="medium",
            used_for="writes failing with 'database is locked' because another process holds a transaction",
            params_model=KillBlockingParams,
        ),
        ActionSpec(
            name="rollback-release",
            description="Roll the target back to its previous release.",
            risk="medium",
            used_for="errors that started with a release change",
            params_model=NoParams,
        ),
        ActionSpec(
            name="enable-dependency-fallback",
            description="Serve stock from the last known values instead of calling the inventory service.",
            risk="low",
            used_for="the inventory service timing out or failing",
            params_model=NoParams,
        ),
        ActionSpec(
            name="enable-rate-limit",
            description="Shed requests above a rate with 429s (a token bucket in the target).",
            risk="low",
            used_for="a traffic surge beyond what the target can serve",
            params_model=RateLimitParams,
        ),
        ActionSpec(
            name="clean-disk",
            description="Delete export spool files and rotated logs from the target's data directory.",
            risk="low",
            used_for="a data disk at its quota, writes failing with 'No space left on device'",
            params_model=NoParams,
        ),
    )
}


WORKER_ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            name="restart-worker",
            description="SIGTERM (then SIGKILL) the worker process, start it again, wait for /healthz. "
            "Jobs it held in flight go back to the queue.",
            risk="medium",
            used_for="a dead or wedged worker; state held in process memory (stuck consumer threads, "
            "retained memory)",
            params_model=NoParams,
        ),
        ActionSpec(
            name="dead-letter-jobs",
            description="Move waiting jobs that failed at least min_attempts times to the dead letter "
            "queue, so the jobs behind them in their partition flow again.",
            risk="low",
            used_for="a message the worker cannot process blocking its partition (failures of one error "
            "type, the oldest message ageing while the rest is consumed)",
            params_model=DeadLetterParams,
        ),
        ActionSpec(
            name="scale-consumers",
            description="Set the number of consumer threads, live.",
            risk="low",
            used_for="more jobs arriving than the consumers can process (the backlog and the oldest "
            "message's age growing while every consumer is busy)",
            params_model=ScaleConsumersParams,
        ),
    )
}
