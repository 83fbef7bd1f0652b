"""The fault catalog with its ground truth: what each fault does, what it looks like, what fixes it.

Only the benchmark reads this (through `GET /api/v1/faults`); the agent never sees it. Each fault's
parameters are a pydantic model, so bad input is refused with a reason before anything is injected.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

RELEASE_PATTERN = r"^\d{4}\.\d{1,2}\.\d{1,4}$"


class FaultParams(BaseModel):
    """Parameters every fault accepts; `duration_seconds` stops the attack by itself when it runs out."""

    model_config = ConfigDict(extra="forbid")

    duration_seconds: float | None = Field(default=None, gt=0, le=3600)


class NoParams(FaultParams):
    pass


class SlowQueriesParams(FaultParams):
    hold_seconds: float = Field(default=600, gt=0, le=3600, description="the lock holder gives up after this")


class MemoryLeakParams(FaultParams):
    bytes_per_request: int = Field(default=262_144, gt=0, le=16 * 1024 * 1024)


class CpuHogParams(FaultParams):
    threads: int = Field(default=2, ge=1, le=8)


class BadDeployParams(FaultParams):
    release: str | None = Field(
        default=None, pattern=RELEASE_PATTERN, description="default: next patch release"
    )


class DependencyOutageParams(FaultParams):
    latency_seconds: float = Field(default=5.0, gt=0, le=60)


class TrafficSpikeParams(FaultParams):
    multiplier: float = Field(default=8.0, gt=1, le=50)


class DiskFillParams(FaultParams):
    bytes: int | None = Field(default=None, gt=0, description="default: up to the quota")


class CrashParams(FaultParams):
    exit_code: int = Field(default=1, ge=1, le=255)


class FaultSpec(BaseModel):
    """One fault and its ground truth. `persists_after_stop` is the damage a real incident leaves behind."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    mechanism: str
    symptoms: list[str]
    expected_diagnosis: str
    fixed_by: list[str]
    not_fixed_by: list[str] = []
    stop_ends: str
    persists_after_stop: str
    params_model: type[FaultParams] = Field(exclude=True)

    def public(self) -> dict[str, Any]:
        """The catalog entry as served, with the parameters as JSON schema."""
        return {**self.model_dump(), "parameters": self.params_model.model_json_schema()}


FAULTS: dict[str, FaultSpec] = {
    spec.name: spec
    for spec in (
        FaultSpec(
            name="db_pool",
            description="Request handlers stop returning the database connections they check out.",
            mechanism="target hook pool-leak: connections really leak from the SQLAlchemy QueuePool",
            symptoms=[
                "pool checked_out climbs to size + max_overflow",
                "requests time out waiting for a connection",
            ],
            expected_diagnosis="db-pool-exhaustion",
            fixed_by=["remediate-db-pool-exhaustion", "restart-target"],
            stop_ends="handlers return connections again",
            persists_after_stop="leaked connections stay checked out until reclaimed or the process restarts",
            params_model=NoParams,
        ),
        FaultSpec(
            name="slow_queries",
            description="Another process holds a write transaction on the target's database.",
            mechanism="a separate process (lab.chaos.lock_holder) holds BEGIN IMMEDIATE plus a write",
            symptoms=[
                "writes wait for busy_timeout and fail with 'database is locked'",
                "database check failing",
            ],
            expected_diagnosis="db-lock-contention",
            fixed_by=["kill-blocking-queries"],
            not_fixed_by=["restart-target"],
            stop_ends="the lock holder is terminated",
            persists_after_stop="nothing",
            params_model=SlowQueriesParams,
        ),
        FaultSpec(
            name="memory_leak",
            description="Each request retains memory that is never freed.",
            mechanism="target hook memory-retain",
            symptoms=["resident memory grows with traffic"],
            expected_diagnosis="memory-leak",
            fixed_by=["restart-target"],
            stop_ends="requests stop retaining more memory",
            persists_after_stop="memory already retained stays until the process restarts",
            params_model=MemoryLeakParams,
        ),
        FaultSpec(
            name="cpu_hog",
            description="Busy threads inside the target eat the CPU.",
            mechanism="target hook cpu-burn",
            symptoms=["process CPU near one core or more", "latency rises"],
            expected_diagnosis="cpu-saturation",
            fixed_by=["restart-target"],
            stop_ends="the busy threads stop",
            persists_after_stop="nothing",
            params_model=CpuHogParams,
        ),
        FaultSpec(
            name="bad_deploy",
            description="A new release with a defect goes out; about 40% of order requests fail.",
            mechanism="target hook release (defective), persisted in release.json",
            symptoms=["release changed", "5xx on orders with a traceback logged at ERROR"],
            expected_diagnosis="bad-release",
            fixed_by=["rollback-release"],
            not_fixed_by=["restart-target"],
            stop_ends="nothing (the deploy already happened)",
            persists_after_stop="the defective release stays current, across restarts, until rolled back",
            params_model=BadDeployParams,
        ),
        FaultSpec(
            name="dependency_outage",
            description="The inventory service the target calls answers too slowly.",
            mechanism="dependency hook latency (default 5 s, beyond the target's 1 s timeout)",
            symptoms=["order writes fail on dependency timeouts", "dependency check failing"],
            expected_diagnosis="dependency-outage",
            fixed_by=["enable-dependency-fallback"],
            not_fixed_by=["restart-target"],
            stop_ends="the dependency answers at normal speed again",
            persists_after_stop="nothing (fallback, if enabled, stays enabled)",
            params_model=DependencyOutageParams,
        ),
        FaultSpec(
            name="traffic_spike",
            description="The load generator multiplies its request rate.",
            mechanism="loadgen hook rate (default x8)",
            symptoms=["requests per second far above the baseline", "latency and errors rise under load"],
            expected_diagnosis="traffic-surge",
            fixed_by=["enable-rate-limit"],
            stop_ends="the load generator goes back to its normal rate",
            persists_after_stop="nothing (a rate limit, if enabled, stays enabled)",
            params_model=TrafficSpikeParams,
        ),
        FaultSpec(
            name="disk_fill",
            description="Export files fill the target's data directory up to its quota.",
            mechanism="target hook disk-fill writes files into spool/",
            symptoms=["disk used ratio at 1", "writes fail with 'No space left on device'"],
            expected_diagnosis="disk-full",
            fixed_by=["clean-disk"],
            not_fixed_by=["restart-target"],
            stop_ends="nothing (the files are already written)",
            persists_after_stop="the spool files stay, across restarts, until cleaned",
            params_model=DiskFillParams,
        ),
        FaultSpec(
            name="crash",
            description="The target process exits.",
            mechanism="target hook exit",
            symptoms=["target unreachable"],
            expected_diagnosis="target-down",
            fixed_by=["restart-target"],
            stop_ends="nothing (the process is already gone)",
            persists_after_stop="the process stays down until restarted (nothing auto-restarts it)",
            params_model=CrashParams,
        ),
    )
}
