"""Everything a request needs, built once per app in the lifespan and reached through `get_runtime`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from lab.memory_retainer import MemoryRetainer
from lab.target.config import Settings
from lab.target.db import Database
from lab.target.inventory import Inventory
from lab.target.logbuffer import LogBuffer
from lab.target.ratelimit import TokenBucket
from lab.target.releases import Releases
from lab.target.storage import Storage
from lab.target.stress import CpuBurner
from lab.target.telemetry import Telemetry


@dataclass
class Runtime:
    settings: Settings
    db: Database
    telemetry: Telemetry
    log: LogBuffer
    releases: Releases
    storage: Storage
    limiter: TokenBucket
    inventory: Inventory
    memory: MemoryRetainer
    cpu: CpuBurner


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]
