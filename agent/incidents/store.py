"""The incident history as the agent's coroutines use it: every call runs in the store's own threads.

SQLite calls and the JSON of incident documents never run on the event loop, so the webhook answers
in milliseconds while readers page through the history and an incident merges a flood of alerts.
The store's threads are its own (not the default executor, where knowledge searches may wait on
Weaviate for seconds); the SQL and its locking are `agent.incidents.sqlite.SqliteHistory`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from agent.incidents.models import Incident, TimelineEntry
from agent.incidents.sqlite import IncidentNotFound, SqliteHistory, StoredSummary

__all__ = ["IncidentNotFound", "IncidentStore", "StoredSummary"]
P = ParamSpec("P")
R = TypeVar("R")
# Few: SQLite releases the GIL, the Python parts would only compete with the event loop for it. The
# API's list pages have a thread (and a connection) of their own, so readers never queue up intake.
THREADS = 2


class IncidentStore:
    def __init__(self, history: SqliteHistory) -> None:
        self.history = history
        self._pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="incident-store")
        self._pages = ThreadPoolExecutor(max_workers=1, thread_name_prefix="incident-pages")

    @classmethod
    async def open(cls, path: Path) -> IncidentStore:
        """Opens (creates, migrates) the SQLite file off the loop."""
        return cls(await asyncio.to_thread(SqliteHistory, path))

    async def _run(self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(call, *args, **kwargs))

    async def close(self) -> None:
        await self._run(self.history.close)
        self._pool.shutdown(wait=False)
        self._pages.shutdown(wait=False)

    async def ping(self) -> bool:
        return await self._run(self.history.ping)

    # incidents
    async def save(self, incident: Incident) -> Incident:
        return await self._run(self.history.save, incident)

    async def get(self, incident_id: str) -> Incident:
        return await self._run(self.history.get, incident_id)

    async def update(self, incident_id: str, mutate: Callable[[Incident], None]) -> Incident:
        """Read, `mutate` and write under the history's lock: `mutate` runs in a store thread and must
        only change the incident it is given."""
        return await self._run(self.history.update, incident_id, mutate)

    async def append(
        self, incident_id: str, step: str, message: str, data: dict[str, Any] | None = None
    ) -> TimelineEntry:
        return await self._run(self.history.append, incident_id, step, message, data)

    async def find(
        self,
        status: str | None = None,
        service: str | None = None,
        diagnosis: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[Incident]:
        return await self._run(self.history.find, status, service, diagnosis, since, limit)

    async def summaries(
        self,
        status: str | None = None,
        service: str | None = None,
        diagnosis: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        before: tuple[str, str] | None = None,
    ) -> list[StoredSummary]:
        call = functools.partial(self.history.summaries, status, service, diagnosis, since, limit, before)
        return await asyncio.get_running_loop().run_in_executor(self._pages, call)

    async def unfinished(self) -> list[Incident]:
        return await self._run(self.history.unfinished)

    async def count_unfinished(self) -> int:
        return await self._run(self.history.count_unfinished)

    async def open_for_service(self, service: str) -> list[Incident]:
        return await self._run(self.history.open_for_service, service)

    async def open_seen(self, service: str, keys: set[str]) -> tuple[set[str], str | None]:
        return await self._run(self.history.open_seen, service, keys)

    async def seen_since(self, keys: set[str], since: datetime) -> set[str]:
        return await self._run(self.history.seen_since, keys, since)

    async def prune(self, closed_before: datetime, keep: int) -> list[str]:
        return await self._run(self.history.prune, closed_before, keep)

    # guardrail ledger
    async def log_action(
        self, key: str, incident_id: str, action: str, status: str, service: str = ""
    ) -> None:
        await self._run(self.history.log_action, key, incident_id, action, status, service)

    async def actions_in_last(
        self, seconds: float, service: str | None = None
    ) -> list[tuple[str, str, datetime]]:
        return await self._run(self.history.actions_in_last, seconds, service)

    async def open_follow_ups(self) -> list[tuple[str, str]]:
        return await self._run(self.history.open_follow_ups)

    # alerts no catalog service owns
    async def record_unowned(self, key: str, alertname: str, labels: dict[str, str], reason: str) -> bool:
        return await self._run(self.history.record_unowned, key, alertname, labels, reason)

    async def unowned(self, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
        return await self._run(self.history.unowned, limit)

    # small persistent flags (the kill switch)
    async def get_state(self, key: str) -> Any:
        return await self._run(self.history.get_state, key)

    async def set_state(self, key: str, value: Any) -> None:
        await self._run(self.history.set_state, key, value)
