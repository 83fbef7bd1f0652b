"""The fault catalog with its ground truth: what each fault does, what it looks like, what fixes it.

Each fault acts on one service (`service`): the orders API (`target`) or the queue worker (`worker`);
its fixes are actions of that service's action server.

Only the benchmark reads this (through `GET /api/v1/faults`); the agent never sees it. Each fault's
parameters are a pydantic model, so bad input is refused with a reason before anything is injected.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RELEASE_PATTERN = r"^\d{4}\.\d{1,2}\.\d{1,4}$"
Service = Literal["target", "worker"]


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


class JobPoisonParams(FaultParams):
    key: str = Field(
        default="customer-1017",
        pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
        description="the job's key: it decides the one partition the message blocks",
    )


class WorkerMemoryLeakParams(FaultParams):
    bytes_per_job: int = Field(default=1024 * 1024, gt=0, le=16 * 1024 * 1024)


class JobFloodParams(FaultParams):
    multiplier: float = Field(
        default=6.0, gt=1, le=50, description="x6 of 8 jobs/s is 48 jobs/s; 2 consumers manage about 20"
    )


class FaultSpec(BaseModel):
    """One fault and its ground truth. `persists_after_stop` is the damage a real incident leaves behind."""

    model_config = ConfigDict(frozen=True)

    name: str
    service: Service = Field(description="the lab service the fault acts on")
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
            service="target",
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
            service="target",
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
            service="target",
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
            service="target",
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
            service="target",
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
            service="target",
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
            service="target",
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
            service="target",
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
            service="target",
            description="The target process exits.",
            mechanism="target hook exit",
            symptoms=["target unreachable"],
            expected_diagnosis="service-down",
            fixed_by=["restart-target"],
            stop_ends="nothing (the process is already gone)",
            persists_after_stop="the process stays down until restarted (nothing auto-restarts it)",
            params_model=CrashParams,
        ),
        FaultSpec(
            name="job_poison",
            service="worker",
            description="A job the worker cannot process (its amount is not a number) is published.",
            mechanism="POST /jobs on the worker's public API with a malformed payload",
            symptoms=[
                "processing failures counted with error_type ValueError, at the retry rate",
                "the oldest waiting message ages while the rest is consumed",
                "the jobs behind it in its partition pile up",
            ],
            expected_diagnosis="poison-message",
            fixed_by=["dead-letter-jobs"],
            not_fixed_by=["restart-worker", "scale-consumers"],
            stop_ends="nothing (the message is in the queue)",
            persists_after_stop="the message stays at the head of its partition, across restarts, "
            "until dead-lettered",
            params_model=JobPoisonParams,
        ),
        FaultSpec(
            name="worker_stall",
            service="worker",
            description="Every consumer's next downstream call blocks and never returns.",
            mechanism="worker hook stall",
            symptoms=[
                "consumed rate drops to 0 with no failures",
                "in-flight messages stay at the consumer count",
                "the backlog and the oldest message's age grow; CPU idle",
            ],
            expected_diagnosis="consumer-stalled",
            fixed_by=["restart-worker"],
            not_fixed_by=["dead-letter-jobs", "scale-consumers"],
            stop_ends="nothing (the blocked calls wait for the process to end)",
            persists_after_stop="the consumers stay blocked until the process restarts",
            params_model=NoParams,
        ),
        FaultSpec(
            name="worker_memory_leak",
            service="worker",
            description="Each job the worker processes retains memory that is never freed.",
            mechanism="worker hook memory-retain",
            symptoms=["resident memory grows with the consumed rate"],
            expected_diagnosis="memory-leak",
            fixed_by=["restart-worker"],
            stop_ends="jobs stop retaining more memory",
            persists_after_stop="memory already retained stays until the process restarts",
            params_model=WorkerMemoryLeakParams,
        ),
        FaultSpec(
            name="job_flood",
            service="worker",
            description="The load generator multiplies the rate of jobs beyond what the consumers manage.",
            mechanism="loadgen hook jobs-rate (default x6)",
            symptoms=[
                "jobs sent far above the consumed rate",
                "ready messages and the oldest message's age grow while every consumer is busy",
            ],
            expected_diagnosis="consumer-saturation",
            fixed_by=["scale-consumers"],
            not_fixed_by=["restart-worker", "dead-letter-jobs"],
            stop_ends="the load generator goes back to its normal jobs rate",
            persists_after_stop="the backlog, until consumed (more consumers, if scaled, stay)",
            params_model=JobFloodParams,
        ),
        FaultSpec(
            name="worker_crash",
            service="worker",
            description="The worker process exits.",
            mechanism="worker hook exit",
            symptoms=["worker unreachable: its scrape target down", "the backlog grows unseen"],
            expected_diagnosis="service-down",
            fixed_by=["restart-worker"],
            stop_ends="nothing (the process is already gone)",
            persists_after_stop="the process stays down until restarted (nothing auto-restarts it)",
            params_model=CrashParams,
        ),
    )
}
