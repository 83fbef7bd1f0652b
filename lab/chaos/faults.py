"""How each fault is driven: one driver per fault starts the real mechanism and says how to end it.

The returned `Injection.end` undoes only the injection itself (hook off, rate back, lock holder
gone); damage a real incident leaves (leaked connections, retained memory, the release, the full
disk, the dead process, a message in the queue) stays for a remediation to fix, as the catalog says.

What the chaos server answers must be true. Every hook call goes through `Injection.drive`: a call
that was refused or never delivered raises MechanismError (502: nothing was injected); a call that was
sent but not answered may have acted, so the injection is kept, marked unconfirmed (202), and its
`end` still runs when the attack is stopped.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lab.chaos.catalog import (
    BadDeployParams,
    CpuHogParams,
    CrashParams,
    DependencyOutageParams,
    DiskFillParams,
    FaultParams,
    JobFloodParams,
    JobPoisonParams,
    MemoryLeakParams,
    SlowQueriesParams,
    TrafficSpikeParams,
    WorkerMemoryLeakParams,
)
from lab.chaos.hooks import Hooks, HookUnanswered, ServiceGone, stop_process

# A payload the worker cannot process: the amount written the way a European spreadsheet exports it.
MALFORMED_AMOUNT = "12,50"


async def _nothing() -> None:
    return None


@dataclass
class Injection:
    """A running injection: `details` is what it did, `end` turns it off, `unconfirmed` why it may
    be only partly in place (empty when every hook answered)."""

    details: dict[str, Any] = field(default_factory=dict)
    end: Callable[[], Awaitable[None]] = _nothing
    unconfirmed: str = ""

    async def drive(self, call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """The hook call's answer; {} and unconfirmed when it was sent and not answered (it may have
        acted). Refused or undelivered calls raise MechanismError: nothing was injected."""
        try:
            return await call
        except HookUnanswered as exc:
            self.unconfirmed = exc.reason
            return {}

    def numbers(self, answer: dict[str, Any]) -> Injection:
        """Keeps the numbers of a hook's answer as the details."""
        self.details.update({k: v for k, v in answer.items() if isinstance(v, int | float)})
        return self


async def _off(call: Awaitable[dict[str, Any]]) -> None:
    """Turns an in-process hook off; a service that is gone took the injection with it."""
    try:
        await call
    except ServiceGone:
        return


async def _switch_on(hooks: Hooks, service: str, lever: str, settings: dict[str, Any]) -> Injection:
    """An in-process lever of the target or the worker switched on with `settings`; stopping switches
    it off (a service that is gone took the injection with it)."""
    injection = Injection(end=lambda: _off(hooks.hook(service, lever, {"enabled": False})))
    await injection.drive(hooks.hook(service, lever, {"enabled": True, **settings}))
    return injection


async def db_pool(hooks: Hooks, params: FaultParams) -> Injection:
    return await _switch_on(hooks, "target", "pool-leak", {})


async def slow_queries(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, SlowQueriesParams)
    process = await hooks.spawn_lock_holder(params.hold_seconds)
    return Injection(details={"lock_holder_pid": process.pid}, end=lambda: stop_process(process))


async def memory_leak(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, MemoryLeakParams)
    return await _switch_on(hooks, "target", "memory-retain", {"bytes_per_request": params.bytes_per_request})


async def cpu_hog(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, CpuHogParams)
    return await _switch_on(hooks, "target", "cpu-burn", {"threads": params.threads})


def next_release(current: str | None, now: datetime | None = None) -> str:
    """The next patch after `current` (`2026.11.3` → `2026.11.4`), or a dated one when unknown."""
    match = re.fullmatch(r"(\d{4})\.(\d{1,2})\.(\d{1,4})", current or "")
    if match:
        return f"{match[1]}.{match[2]}.{int(match[3]) + 1}"
    now = now or datetime.now(UTC)
    return f"{now.year}.{now.month}.{now.day + 100}"


async def bad_deploy(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, BadDeployParams)
    release = params.release or next_release(await hooks.current_release())
    injection = Injection(details={"release": release})
    await injection.drive(hooks.target("release", {"release": release, "defective": True}))
    return injection


async def dependency_outage(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, DependencyOutageParams)

    async def end() -> None:
        await hooks.dependency("latency", {"seconds": 0})

    injection = Injection(end=end)
    await injection.drive(hooks.dependency("latency", {"seconds": params.latency_seconds}))
    return injection


async def _rate(hooks: Hooks, lever: str, multiplier: float) -> Injection:
    """A load generator lever (`rate`, `jobs-rate`) set to `multiplier`; stopping sets it back to 1."""

    async def end() -> None:
        await hooks.loadgen(lever, {"multiplier": 1.0})

    injection = Injection(end=end)
    await injection.drive(hooks.loadgen(lever, {"multiplier": multiplier}))
    return injection


async def traffic_spike(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, TrafficSpikeParams)
    return await _rate(hooks, "rate", params.multiplier)


async def disk_fill(hooks: Hooks, params: FaultParams) -> Injection:
    """The target answers once it has started writing (it writes in the background) with the bytes
    it will write. If the hook does not answer in time, the writing may have started anyway: the
    attack is recorded, unconfirmed, never reported as "nothing injected"."""
    assert isinstance(params, DiskFillParams)
    injection = Injection()
    return injection.numbers(await injection.drive(hooks.target("disk-fill", {"bytes": params.bytes})))


async def _exit(hooks: Hooks, service: str, code: int) -> Injection:
    """The service's exit hook. The process may go before its answer is read, and one that does not
    accept connections is already down: gone is what was asked, so either is a confirmed exit."""
    injection = Injection()
    try:
        await injection.drive(hooks.hook(service, "exit", {"code": code}))
    except ServiceGone:
        return injection
    if injection.unconfirmed and not await hooks.answers(service):
        injection.unconfirmed = ""
    return injection


async def crash(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, CrashParams)
    return await _exit(hooks, "target", params.exit_code)


async def job_poison(hooks: Hooks, params: FaultParams) -> Injection:
    """Publishes a job the worker cannot process through its public API, like any producer would."""
    assert isinstance(params, JobPoisonParams)
    injection = Injection(details={"key": params.key})
    job = {"kind": "invoice", "key": params.key, "amount": MALFORMED_AMOUNT}
    return injection.numbers(await injection.drive(hooks.publish_job(job)))


async def worker_stall(hooks: Hooks, params: FaultParams) -> Injection:
    injection = Injection()
    await injection.drive(hooks.worker("stall", {}))
    return injection


async def worker_memory_leak(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, WorkerMemoryLeakParams)
    return await _switch_on(hooks, "worker", "memory-retain", {"bytes_per_job": params.bytes_per_job})


async def job_flood(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, JobFloodParams)
    return await _rate(hooks, "jobs-rate", params.multiplier)


async def worker_crash(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, CrashParams)
    return await _exit(hooks, "worker", params.exit_code)


Driver = Callable[[Hooks, FaultParams], Awaitable[Injection]]

DRIVERS: dict[str, Driver] = {
    "db_pool": db_pool,
    "slow_queries": slow_queries,
    "memory_leak": memory_leak,
    "cpu_hog": cpu_hog,
    "bad_deploy": bad_deploy,
    "dependency_outage": dependency_outage,
    "traffic_spike": traffic_spike,
    "disk_fill": disk_fill,
    "crash": crash,
    "job_poison": job_poison,
    "worker_stall": worker_stall,
    "worker_memory_leak": worker_memory_leak,
    "job_flood": job_flood,
    "worker_crash": worker_crash,
}
