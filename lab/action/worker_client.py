"""The queue worker as its action server sees it: admin calls, and a health verdict from what it exposes.

The verdict reads the worker's `/healthz`, two scrapes of its `/metrics` `sample_seconds` apart, and
its admin queue state (the heads of the partitions). The worker is healthy when all of these hold:

1. it answers (`/healthz`, `/metrics` and the admin API);
2. no partition is blocked: no waiting head has failed `max_head_attempts` times or more;
3. it consumes: jobs were committed during the sample, or nothing waits (no ready or in-flight job);
4. it keeps up: the ready backlog grew by less than `max_backlog_growth_per_second` during the sample,
   and the oldest waiting job is younger than `max_message_age_seconds` (a backlog that shrinks but
   is still old is not healthy yet; one that grows is not, however young);
5. its resident memory is below `max_rss_bytes`.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, ConfigDict

from lab.action.admin_client import AdminCallFailed, AdminClient

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class WorkerLimits(BaseModel):
    max_head_attempts: int = 3
    max_message_age_seconds: float = 30.0
    max_backlog_growth_per_second: float = 5.0
    max_rss_bytes: int = 512 * 1024 * 1024
    sample_seconds: float = 1.0


class QueueHead(BaseModel):
    model_config = ConfigDict(extra="ignore")
    partition: int
    attempts: int


class QueueState(BaseModel):
    """The part of the worker's `GET /admin/queue` the verdict reads."""

    model_config = ConfigDict(extra="ignore")
    heads: list[QueueHead] = []


class WorkerHealth(BaseModel):
    is_healthy: bool
    status: str
    reachable: bool
    consumers: int | None = None
    ready: int | None = None
    in_flight: int | None = None
    dead_letter: int | None = None
    consumed_per_second: float | None = None
    backlog_growth_per_second: float | None = None
    oldest_message_age_seconds: float | None = None
    blocked_partitions: list[int] = []
    resident_memory_bytes: int | None = None
    detail: str = ""


def parse_samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


JOBS = {"messaging_destination_name": "jobs"}


def consumed_total(samples: Samples) -> float:
    return (
        sample(samples, "messaging_client_consumed_messages_total", **JOBS, messaging_system="sqlite") or 0.0
    )


class WorkerClient(AdminClient):
    def __init__(
        self, http: httpx.AsyncClient, base_url: str, admin_token: str, timeout: float, limits: WorkerLimits
    ) -> None:
        super().__init__(http, base_url, admin_token, timeout, service="worker")
        self._limits = limits

    async def _scrape(self) -> tuple[Samples, float]:
        response = await self._http.get(f"{self._base}/metrics", timeout=min(self._timeout, 5.0))
        response.raise_for_status()
        return parse_samples(response.text), time.monotonic()

    async def health(self) -> WorkerHealth:
        try:
            (
                await self._http.get(f"{self._base}/healthz", timeout=min(self._timeout, 5.0))
            ).raise_for_status()
            first, started = await self._scrape()
            await asyncio.sleep(self._limits.sample_seconds)
            second, ended = await self._scrape()
            queue = QueueState.model_validate(await self.admin_get("queue"))
        except (httpx.HTTPError, ValueError, AdminCallFailed) as exc:
            reason = exc.reason if isinstance(exc, AdminCallFailed) else type(exc).__name__
            return WorkerHealth(is_healthy=False, status="unreachable", reachable=False, detail=reason)
        return self.verdict(first, second, ended - started, queue)

    def verdict(self, first: Samples, second: Samples, seconds: float, queue: QueueState) -> WorkerHealth:
        limits = self._limits
        consumed = consumed_total(second) - consumed_total(first)
        ready = int(sample(second, "queue_messages", **JOBS, state="ready") or 0)
        growth = (ready - (sample(first, "queue_messages", **JOBS, state="ready") or 0)) / max(seconds, 1e-3)
        in_flight = int(sample(second, "queue_messages", **JOBS, state="in_flight") or 0)
        age = sample(second, "queue_oldest_message_age_seconds", **JOBS) or 0.0
        rss = int(sample(second, "process_resident_memory_bytes") or 0)
        blocked = sorted(h.partition for h in queue.heads if h.attempts >= limits.max_head_attempts)
        problems = []
        if blocked:
            problems.append(f"partition heads failed {limits.max_head_attempts}+ times: {blocked}")
        if consumed <= 0 and ready + in_flight > 0:
            problems.append(f"no job committed in {seconds:.1f} s with {ready + in_flight} waiting")
        if growth >= limits.max_backlog_growth_per_second:
            problems.append(f"ready backlog growing by {growth:.0f} jobs/s")
        if age >= limits.max_message_age_seconds:
            problems.append(f"oldest waiting job is {age:.0f} s old")
        if rss >= limits.max_rss_bytes:
            problems.append(f"resident memory {rss / 2**20:.0f} MiB")
        return WorkerHealth(
            is_healthy=not problems,
            status="unhealthy" if problems else "healthy",
            reachable=True,
            consumers=int(sample(second, "queue_consumers", **JOBS) or 0),
            ready=ready,
            in_flight=in_flight,
            dead_letter=int(sample(second, "queue_messages", **JOBS, state="dead_letter") or 0),
            consumed_per_second=round(consumed / seconds, 3) if seconds > 0 else None,
            backlog_growth_per_second=round(growth, 3),
            oldest_message_age_seconds=round(age, 3),
            blocked_partitions=blocked,
            resident_memory_bytes=rss,
            detail="; ".join(problems),
        )
