"""How each fault is driven: one driver per fault starts the real mechanism and says how to end it.

The returned `Injection.end` undoes only the injection itself (hook off, rate back, lock holder
gone); damage a real incident leaves (leaked connections, retained memory, the release, the full
disk, the dead process) stays for a remediation to fix, as the catalog documents.
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
    MemoryLeakParams,
    SlowQueriesParams,
    TrafficSpikeParams,
)
from lab.chaos.hooks import Hooks, MechanismError, TargetGone, stop_process


async def _nothing() -> None:
    return None


@dataclass
class Injection:
    """A running injection: `details` is what it did, `end` turns it off."""

    details: dict[str, Any] = field(default_factory=dict)
    end: Callable[[], Awaitable[None]] = _nothing


async def _target_off(hooks: Hooks, path: str, body: dict[str, Any]) -> None:
    """Turns an in-process hook off; a target that is gone took the injection with it."""
    try:
        await hooks.target(path, body)
    except TargetGone:
        return


async def db_pool(hooks: Hooks, params: FaultParams) -> Injection:
    await hooks.target("pool-leak", {"enabled": True})
    return Injection(end=lambda: _target_off(hooks, "pool-leak", {"enabled": False}))


async def slow_queries(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, SlowQueriesParams)
    process = await hooks.spawn_lock_holder(params.hold_seconds)
    return Injection(details={"lock_holder_pid": process.pid}, end=lambda: stop_process(process))


async def memory_leak(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, MemoryLeakParams)
    await hooks.target("memory-retain", {"enabled": True, "bytes_per_request": params.bytes_per_request})
    return Injection(end=lambda: _target_off(hooks, "memory-retain", {"enabled": False}))


async def cpu_hog(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, CpuHogParams)
    await hooks.target("cpu-burn", {"enabled": True, "threads": params.threads})
    return Injection(end=lambda: _target_off(hooks, "cpu-burn", {"enabled": False}))


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
    await hooks.target("release", {"release": release, "defective": True})
    return Injection(details={"release": release})


async def dependency_outage(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, DependencyOutageParams)
    await hooks.dependency("latency", {"seconds": params.latency_seconds})

    async def end() -> None:
        await hooks.dependency("latency", {"seconds": 0})

    return Injection(end=end)


async def traffic_spike(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, TrafficSpikeParams)
    await hooks.loadgen("rate", {"multiplier": params.multiplier})

    async def end() -> None:
        await hooks.loadgen("rate", {"multiplier": 1.0})

    return Injection(end=end)


async def disk_fill(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, DiskFillParams)
    answer = await hooks.target("disk-fill", {"bytes": params.bytes})
    return Injection(details={k: v for k, v in answer.items() if isinstance(v, int | float)})


async def crash(hooks: Hooks, params: FaultParams) -> Injection:
    assert isinstance(params, CrashParams)
    try:
        await hooks.target("exit", {"code": params.exit_code})
    except MechanismError:
        # The process may exit before its answer is fully read: gone is what was asked for.
        if await hooks.current_release() is not None:
            raise
    return Injection()


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
}
